"""``honed report``: one self-contained HTML file (inline SVG plots, no external assets) for a
tune sweep (Pareto scatter, latency CDF before/after, before/after bars with CIs, trials,
environment) or for a single run."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from honed.console import recommendation_text, stability_warning
from honed.core.errors import HonedError
from honed.records.record import RunRecord
from honed.store.database import Store
from honed.tuning.result import TuneResult


def write_report(sweep_or_run: TuneResult | RunRecord | str, path: str | Path, store: Store | None = None) -> Path:
    """Write the report for a sweep or run (an object, or an id looked up in ``store``)."""
    path = Path(path)
    path.write_text(render_report(sweep_or_run, store))
    return path


def render_report(
    sweep_or_run: TuneResult | RunRecord | str, store: Store | None = None, back_link: str | None = None
) -> str:
    """The report as one HTML page (the dashboard serves it with a link back)."""
    subject = _resolve(sweep_or_run, store)
    context = _sweep_context(subject, store) if isinstance(subject, TuneResult) else _run_context(subject)
    template = Environment(autoescape=select_autoescape(default=True)).from_string(
        resources.files("honed.report").joinpath("report.html.j2").read_text()
    )
    return template.render(**context, back_link=back_link)


def _resolve(subject: Any, store: Store | None) -> TuneResult | RunRecord:
    if not isinstance(subject, str):
        return subject
    if store is None:
        raise HonedError("a store is needed to look up a sweep or run by id")
    try:
        return TuneResult.model_validate(store.sweep(subject))
    except HonedError:
        return store.get(subject)  # raises with a clear message when neither exists


def environment_rows(record: RunRecord) -> list[tuple[str, str]]:
    fp = record.fingerprint
    rows = [
        ("device", f"{record.device} ({fp.runtime.get('device_name', '?')}), threads {fp.runtime.get('threads', '?')}"),
        ("cpu", f"{fp.cpu.get('model')} x{fp.cpu.get('logical_cores')}"),
        ("cpu flags", " ".join(fp.cpu.get("flags", [])) or "-"),
        ("gpus", ", ".join(g["name"] for g in fp.gpus) or (fp.gpu_note or "none")),
        ("memory", f"{fp.memory_bytes / 2**30:.1f} GiB"),
        ("os", fp.os),
        ("python", fp.python),
    ]
    rows += [(name, version) for name, version in fp.packages.items() if version]
    if record.peaks:
        rows.append(
            (
                "measured peaks",
                f"{record.peaks.peak_flops / 1e9:.0f} GFLOP/s, "
                f"{record.peaks.peak_bandwidth_bytes_per_s / 1e9:.1f} GB/s ({record.peaks.method})",
            )
        )
    protocol = record.protocol
    rows.append(
        (
            "protocol",
            f"scope {protocol.scope}, warm-up >= {protocol.warmup_iterations} it / {protocol.warmup_min_seconds} s, "
            f">= {protocol.min_samples} samples and >= {protocol.min_seconds} s, {protocol.repetitions} "
            f"processes per batch size, {protocol.confidence:.0%} bootstrap CIs, seed {protocol.seed}",
        )
    )
    return rows


def _bars(before: RunRecord, after: RunRecord, batch_size: int) -> list[tuple]:
    ra, rb = before.result(batch_size), after.result(batch_size)
    metrics: list[tuple] = []
    if ra and rb and ra.latency_ms and rb.latency_ms:
        for stat in ("p50", "p99"):
            a, b = getattr(ra.latency_ms, stat), getattr(rb.latency_ms, stat)
            ca, cb = getattr(ra.latency_ms, f"{stat}_ci"), getattr(rb.latency_ms, f"{stat}_ci")
            metrics.append((f"{stat} ms (b{batch_size})", a, b, (ca.low, ca.high), (cb.low, cb.high)))
        metrics.append((f"items/s (b{batch_size})", ra.throughput_items_per_s, rb.throughput_items_per_s, None, None))
        if ra.peak_rss_bytes and rb.peak_rss_bytes:
            metrics.append(("peak RSS MiB", ra.peak_rss_bytes / 2**20, rb.peak_rss_bytes / 2**20, None, None))
    if before.quality and after.quality and before.quality.status == after.quality.status == "ok":
        for name, value in before.quality.values.items():
            if name in after.quality.values:
                metrics.append((name, value, after.quality.values[name], None, None))
    return metrics


def _placed(result: TuneResult) -> tuple[str, dict[str, list[tuple[float, float]]]]:
    """Each trial's quality pass (its screen, or its measured run's) as (speed over the base
    model's, quality), by what became of it: the rate is items/s, or the decoding probe's tokens/s
    in the generate scope, as the knob search ranks them."""
    from honed.tuning.knob_search import NOT_TIMED, RATE_UNITS, quality_rate, rate_key

    key = rate_key(result.protocol.scope)
    base = result.baseline.quality if result.baseline else None  # its measured run's pass, not a screen
    base_rate = base.timing.get(key) if base is not None and base.status == "ok" else None
    placed: dict[str, list[tuple[float, float]]] = {"timed": [], "not timed": [], "rejected": []}
    if not base_rate:
        return RATE_UNITS[key], placed
    for trial in result.trials:
        quality, rate = trial.screen or trial.quality, quality_rate(trial, key)
        if quality is None or not rate or quality.primary_value is None:
            continue
        status = "timed" if trial.run_id else "not timed" if (trial.reason or "").startswith(NOT_TIMED) else "rejected"
        placed[status].append((rate / base_rate, quality.primary_value))
    return RATE_UNITS[key], placed


def _sweep_context(result: TuneResult, store: Store | None) -> dict[str, Any]:
    from honed.report import plots
    from honed.tuning.importance import knob_importance

    objective = result.settings.goal_objective
    what, better, unit = objective.what, objective.better, objective.unit
    metric = (
        result.metric
        or result.settings.guardrail.metric
        or (result.baseline.quality.primary if result.baseline and result.baseline.quality else None)
        or "quality"
    )
    runs = _runs(result, store)
    before = runs.get(result.baseline.key) if result.baseline else None
    after = runs.get(result.recommended.trial) if result.recommended else None
    batch = result.recommended.batch_size if result.recommended else result.protocol.batch_sizes[0]
    figures = {
        "pareto": plots.pareto_scatter(result.points, result.pareto, result.recommended, f"{what} ({unit})", metric)
    }
    rate, placed = _placed(result)
    if any(placed.values()):
        figures["trials"] = plots.trials_scatter(placed, rate, metric)
    if before is not None and after is not None and result.recommended is not None:
        label = result.recommended.label
        figures["cdf"] = plots.latency_cdf([("base model", before), (label, after)], batch)
        figures["bars"] = plots.before_after_bars(_bars(before, after, batch), ("base", "recommended"))
    trials = [t for t in [result.baseline, *result.trials] if t is not None]
    return {
        "kind": "sweep",
        "title": f"honed tune: {result.model.display_name}",
        "result": result,
        "trials": trials,
        "points": {t.key: [p for p in result.points if p.trial == t.key] for t in trials},
        "objective": what,
        "unit": unit,
        "better": better,
        "metric": metric,
        "figures": figures,
        "summary": recommendation_text(result),
        "importance": knob_importance(result) if result.settings.search != "list" else [],
        "environment": environment_rows(before) if before else [],
        "settings": result.settings.model_dump(mode="json"),
        "stability_warnings": [
            f"{t.label}: {t.stability.verdict}: {'; '.join(t.stability.reasons)}"
            for t in result.contended_trials
            if t.stability is not None
        ],
    }


def _run_context(record: RunRecord) -> dict[str, Any]:
    from honed.report import plots

    figures = {
        f"cdf{r.batch_size}": plots.latency_cdf([(record.model.display_name, record)], r.batch_size)
        for r in record.results
        if r.latency_ms
    }
    return {
        "kind": "run",
        "title": f"honed run: {record.model.display_name}",
        "record": record,
        "figures": figures,
        "environment": environment_rows(record),
        "stability_warnings": [w] if (w := stability_warning(record)) else [],
    }


def _runs(result: TuneResult, store: Store | None) -> dict[str, RunRecord]:
    runs: dict[str, RunRecord] = {}
    if store is None:
        return runs
    for trial in [result.baseline, *result.trials]:
        if trial is not None and trial.run_id:
            try:
                runs[trial.key] = store.get(trial.run_id)
            except HonedError:
                pass  # a deleted run: the report shows the trial without its plots
    return runs
