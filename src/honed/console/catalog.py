"""What honed knows and sees, as tables: stored runs, algorithms, tasks, and the machine check."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table


def runs_list_table(rows: list[Any]) -> Table:
    """The stored runs (store rows, without their records), newest first, with p50 latency per batch size."""
    table = Table("id", "created (UTC)", "name", "model", "recipe", "device", "status", "p50 ms by batch size")
    for row in rows:
        batches = (row.summary or {}).get("batches", {})
        p50 = ", ".join(
            f"b{size}: {values['p50_ms']:.3f}" if "p50_ms" in values else f"b{size}: failed"
            for size, values in batches.items()
        )
        table.add_row(
            row.id[:12],
            row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.name or "",
            row.model_name,
            escape(row.recipe_label or ""),
            row.device,
            row.status,
            p50,
        )
    return table


def sweeps_table(rows: list[Any]) -> Table:
    """The stored tune sweeps (store rows), most recently updated first."""
    table = Table("id", "updated (UTC)", "name", "model", "stopped")
    for row in rows:
        table.add_row(
            row.id[:12],
            row.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.name or "",
            row.model_name,
            escape(row.stop_reason or ""),
        )
    return table


def algorithm_rows(target: str) -> list[dict[str, Any]]:
    """The registered algorithms in canonical order, and whether each runs on ``target`` here."""
    from honed.optimization import FAMILIES, list_algorithms

    return [
        {
            "algorithm": algorithm.name,
            "family": algorithm.family,
            "targets": sorted(algorithm.targets),
            "unavailable_here": algorithm.unavailable_reason(target),
            "typical_min_cosine": algorithm.typical_min_cosine,
            "export": algorithm.export,
            "export_note": None if algorithm.export else algorithm.export_note,
            "summary": algorithm.summary,
            "tune_variants": [{"params": v.params, "suited": v.suited, "why": v.why} for v in algorithm.variants],
            "search_space": [{"knob": k.describe(), "why": k.why} for k in algorithm.space],
        }
        for algorithm in sorted(list_algorithms(), key=lambda a: (FAMILIES.index(a.family), a.name))
    ]


def algorithms_table(target: str) -> Table:
    table = Table("algorithm", "family", "targets", "here", "typical min cosine", "optimize -o writes", "what it does")
    tried = "; a default tune also tries "
    for row in algorithm_rows(target):
        reason = row["unavailable_here"]
        table.add_row(
            row["algorithm"],
            row["family"],
            ",".join(row["targets"]),
            "[green]yes[/]" if reason is None else f"[yellow]no[/]: {escape(reason)}",
            f"{row['typical_min_cosine']:.2f}",
            {"weights": "the model's own format", "runtime": "the runtime's files"}.get(
                row["export"] or "", f"[yellow]nothing[/]: {escape(row['export_note'] or '')}"
            ),
            escape(
                row["summary"]
                + "".join(tried + _variant(v) for v in row["tune_variants"])
                + (
                    "; tune --search walks " + "; ".join(k["knob"] for k in row["search_space"])
                    if row["search_space"]
                    else ""
                )
            ),
        )
    return table


def _variant(variant: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in variant["params"].items())
    return f"({params}) on {variant['suited']}: {variant['why']}"


def task_rows() -> list[dict[str, Any]]:
    """The registered tasks, their metrics with the better direction, and their default data."""
    from honed.tasks import TASKS
    from honed.tasks.metrics import get_metric

    return [
        {
            "task": name,
            "metrics": {m: get_metric(m).better for m in task.metrics},
            "primary": task.primary,
            "default_data": first_paragraph(task.default.__doc__).replace("``", ""),  # plain text, no RST
        }
        for name, task in ((name, TASKS.get(name)) for name in TASKS.names())
    ]


def tasks_table() -> Table:
    table = Table("task", "metrics (better)", "primary", "default data")
    for row in task_rows():
        metrics = ", ".join(f"{m} ({better})" for m, better in row["metrics"].items())
        table.add_row(row["task"], metrics, row["primary"], escape(row["default_data"]))
    return table


def first_paragraph(doc: str | None) -> str:
    """A docstring's first paragraph on one line (its markup left as written)."""
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def doctor_table(checks: list[Any]) -> Table:
    table = Table("check", "", "finding", "advice")
    style = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "info": "info"}
    for check in checks:
        table.add_row(check.name, style[check.status], escape(check.finding), escape(check.advice))
    return table
