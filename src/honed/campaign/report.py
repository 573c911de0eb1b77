"""The case-study table of a campaign: per model and target the base model's numbers, the
recommended recipe, its speed-up with an interval, quality before and after, memory, energy
and cost; then why each algorithm left out on a target was left out."""

from __future__ import annotations

from dataclasses import dataclass, field

from honed.campaign import ledger
from honed.campaign.tables import CellRow
from honed.core.errors import HonedError
from honed.records.record import BatchResult
from honed.store.database import Store
from honed.tuning.points import Speedup, speedup_with_interval
from honed.tuning.result import Point, TuneResult


@dataclass(frozen=True)
class ReportRow:
    model: str
    target: str
    status: str
    attempts: int
    node: str | None = None
    progress: str | None = None
    sweep_id: str | None = None
    error: str | None = None
    objective: str = ""
    unit: str = ""
    recipe: str | None = None
    base: float | None = None
    best: float | None = None
    speedup: Speedup = Speedup()
    quality_metric: str | None = None
    quality_before: float | None = None
    quality_after: float | None = None
    quality_drop: float | None = None
    peak_rss_mib: float | None = None
    joules_per_item: float | None = None
    cost_per_million_usd: float | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # left out before trying: the target cannot run it
    rejected: dict[str, str] = field(default_factory=dict)  # tried, and failed the guardrail or crashed


@dataclass(frozen=True)
class CampaignReport:
    id: str
    name: str
    software: dict[str, str | None]
    rows: list[ReportRow]

    @property
    def progress(self) -> dict[str, int]:
        return ledger.progress_counts(self.rows)


def build_report(store: Store, campaign_id: str) -> CampaignReport:
    campaign = ledger.campaign(store, campaign_id)
    order = {
        (m["name"], t["name"]): i
        for i, (m, t) in enumerate((m, t) for m in campaign.spec["models"] for t in campaign.spec["targets"])
    }
    rows = sorted(
        (_row(store, cell) for cell in ledger.cells(store, campaign.id)),
        key=lambda row: order.get((row.model, row.target), len(order)),
    )
    return CampaignReport(campaign.id, campaign.name, campaign.software, rows)


def _row(store: Store, cell: CellRow) -> ReportRow:
    base_row = ReportRow(
        model=cell.model,
        target=cell.target,
        status=cell.status,
        attempts=cell.attempts,
        node=cell.node,
        progress=cell.progress,
        sweep_id=cell.sweep_id,
        error=cell.error,
        skipped=dict(cell.skipped),
    )
    if cell.status != "done" or not cell.sweep_id:
        return base_row
    result = TuneResult.model_validate(store.sweep(cell.sweep_id))
    best, objective = result.recommended, result.settings.goal_objective
    filled = dict(
        base_row.__dict__,
        skipped={**cell.skipped, **result.skipped},
        objective=objective.what,
        unit=objective.unit,
        quality_metric=result.metric,
        rejected={t.label: f"{t.status}: {t.reason}" for t in result.trials if t.status != "ok"},
    )
    if result.metric is not None and result.baseline is not None and result.baseline.quality is not None:
        filled["quality_before"] = result.baseline.quality.values.get(result.metric)
    if best is None:
        return ReportRow(**filled)
    base = _base_point(result, best)
    trial = next((t for t in [result.baseline, *result.trials] if t is not None and t.key == best.trial), None)
    measured = _batch(store, trial.run_id if trial else None, best.batch_size)
    filled.update(
        recipe=best.label,
        base=base.objective if base else None,
        best=best.objective,
        speedup=speedup_with_interval(base, best, objective.better) if base else Speedup(),
    )
    if result.metric is not None and trial is not None and trial.quality is not None:
        filled.update(quality_after=trial.quality.values.get(result.metric), quality_drop=trial.quality_drop)
    if measured is not None:
        filled.update(
            peak_rss_mib=measured.peak_rss_bytes / 2**20 if measured.peak_rss_bytes else None,
            joules_per_item=measured.energy.joules_per_item if measured.energy else None,
            cost_per_million_usd=measured.cost_per_million_usd,
        )
    return ReportRow(**filled)


def _base_point(result: TuneResult, best: Point) -> Point | None:
    if result.baseline is None:
        return None
    return next(
        (
            p
            for p in result.points
            if p.trial == result.baseline.key and p.batch_size == best.batch_size and p.threads == best.threads
        ),
        None,
    )


def _batch(store: Store, run_id: str | None, batch_size: int) -> BatchResult | None:
    if not run_id:
        return None
    try:
        record = store.get(run_id)
    except HonedError:  # deleted since: the sweep's own numbers still stand
        return None
    return next((r for r in record.results if r.batch_size == batch_size), None)


def markdown(report: CampaignReport) -> str:
    """The table as Markdown, for a README, an issue or a pull request."""
    lines = [
        f"# Campaign {report.name} ({report.id})",
        "",
        "software: " + ", ".join(f"{k} {v}" for k, v in report.software.items() if v),
        "",
        "| model | target | base | recommended | speed-up (95 % CI) | quality before -> after (drop) "
        "| peak memory | energy / inference | cost / 1M |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        lines.append("| " + " | ".join(cells(row)) + " |")
    lines += ["", "## Why not", ""]
    for row in report.rows:
        for algorithm, reason in sorted(row.skipped.items()):
            lines.append(f"- {row.model} on {row.target}: **{algorithm}**: {reason}")
        for recipe, reason in row.rejected.items():
            lines.append(f"- {row.model} on {row.target}: **{recipe}** (tried): {reason}")
    return "\n".join(lines) + "\n"


def cells(row: ReportRow) -> list[str]:
    """A row's cells as text, shared by the Markdown and the console tables."""
    if row.status != "done":
        state = row.status + (f" after {row.attempts} attempt(s): {row.error}" if row.error else "")
        return [row.model, row.target, state[:200], "", "", "", "", "", ""]
    quality = ""
    if row.quality_before is not None:
        quality = f"{row.quality_metric} {row.quality_before:.4g} -> " + (
            f"{row.quality_after:.4g}" if row.quality_after is not None else "?"
        )
        if row.quality_drop is not None:
            quality += f" ({row.quality_drop:+.2%})"
    return [
        row.model,
        row.target,
        f"{row.objective} {row.base:.4g} {row.unit}" if row.base else "",
        row.recipe or "none passed",
        row.speedup.text(),
        quality,
        f"{row.peak_rss_mib:.0f} MiB" if row.peak_rss_mib else "",
        f"{row.joules_per_item:.4g} J" if row.joules_per_item else "not measured",
        f"${row.cost_per_million_usd:.4g}" if row.cost_per_million_usd else "",
    ]
