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


def algorithms_table(target: str) -> Table:
    """The registered algorithms in canonical order, and whether each runs on ``target`` here."""
    from honed.optimization import FAMILIES, list_algorithms

    table = Table("algorithm", "family", "targets", "here", "typical min cosine", "optimize -o writes", "what it does")
    for algorithm in sorted(list_algorithms(), key=lambda a: (FAMILIES.index(a.family), a.name)):
        reason = algorithm.unavailable_reason(target)
        table.add_row(
            algorithm.name,
            algorithm.family,
            ",".join(sorted(algorithm.targets)),
            "[green]yes[/]" if reason is None else f"[yellow]no[/]: {reason}",
            f"{algorithm.typical_min_cosine:.2f}",
            {"weights": "the model's own format", "runtime": "the runtime's files"}.get(
                algorithm.export or "", f"[yellow]nothing[/]: {escape(algorithm.export_note)}"
            ),
            algorithm.summary + "".join(f"; a default tune also tries {_variant(v)}" for v in algorithm.variants),
        )
    return table


def _variant(variant: Any) -> str:
    params = ", ".join(f"{k}={v}" for k, v in variant.params.items())
    return f"({params}) on {variant.suited}: {variant.why}"


def tasks_table() -> Table:
    """The registered tasks, their metrics with the better direction, and their default data."""
    from honed.tasks import TASKS
    from honed.tasks.metrics import get_metric

    table = Table("task", "metrics (better)", "primary", "default data")
    for name in TASKS.names():
        task = TASKS.get(name)
        metrics = ", ".join(f"{m} ({get_metric(m).better})" for m in task.metrics)
        summary = (task.default.__doc__ or "").strip().splitlines()
        table.add_row(name, metrics, task.primary, summary[0] if summary else "")
    return table


def doctor_table(checks: list[Any]) -> Table:
    table = Table("check", "", "finding", "advice")
    style = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "info": "info"}
    for check in checks:
        table.add_row(check.name, style[check.status], escape(check.finding), escape(check.advice))
    return table
