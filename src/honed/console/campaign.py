"""A campaign in the terminal: its plan (cells and what each target leaves out), its progress,
and the case-study table."""

from __future__ import annotations

from rich.table import Table

from honed.campaign.cells import CampaignCell
from honed.campaign.report import CampaignReport, cells

_STATUS_STYLE = {"done": "green", "failed": "red", "running": "yellow", "pending": "dim"}


def plan_table(plan: list[CampaignCell]) -> Table:
    table = Table(title=f"campaign {plan[0].campaign_id}: {len(plan)} tunes", title_justify="left")
    for column in ("model", "target", "resource", "device", "left out (why: honed campaign report)"):
        table.add_column(column)
    for cell in plan:
        table.add_row(
            cell.model, cell.target, cell.resource, cell.target_spec.device, ", ".join(sorted(cell.skipped)) or "-"
        )
    return table


def status_table(report: CampaignReport) -> Table:
    progress = ", ".join(f"{n} {status}" for status, n in report.progress.items() if n)
    table = Table(title=f"campaign {report.name} ({report.id}): {progress}", title_justify="left")
    for column in ("model", "target", "status", "attempts", "node", "progress", "sweep", "recommended"):
        table.add_column(column)
    for row in report.rows:
        style = _STATUS_STYLE.get(row.status, "")
        table.add_row(
            row.model,
            row.target,
            f"[{style}]{row.status}[/]",
            str(row.attempts),
            row.node or "",
            row.progress or "",
            (row.sweep_id or "")[:12],
            row.recipe or (row.error or "")[:60],
        )
    return table


def report_table(report: CampaignReport) -> Table:
    table = Table(title=f"campaign {report.name} ({report.id})", title_justify="left")
    for column in (
        "model",
        "target",
        "base",
        "recommended",
        "speed-up (95% CI)",
        "quality before -> after (drop)",
        "peak memory",
        "energy / inference",
        "$ / 1M",
    ):
        table.add_column(column)
    for row in report.rows:
        table.add_row(*cells(row))
    return table
