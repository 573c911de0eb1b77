"""What the commands do beyond parsing: run with progress, show results, write reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from honed.cli.app import err, out

if TYPE_CHECKING:
    from honed.records.record import RunRecord


def progress_callback(progress, task):
    def on_progress(done: int, total: int, result) -> None:
        status = "ok" if result.status == "ok" else f"[red]{result.status}[/]"
        where = (
            f"quality on {result.task}"
            if hasattr(result, "task")
            else f"batch {result.batch_size} rep {result.repetition + 1}"
        )
        progress.update(task, completed=done, description=f"{where}: {status}")

    return on_progress


def run_evaluation(spec, store, plan=None) -> RunRecord:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from honed.run.evaluation import evaluate
    from honed.run.plan import plan_run

    plan = plan or plan_run(spec.model, spec)  # bad input fails here, before the progress bar
    for warning in plan.warnings:
        err.print(f"WARNING: {warning}", style="bold yellow", highlight=False, markup=False)
    total = len(spec.protocol.batch_sizes) * spec.protocol.repetitions + (plan.task is not None)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(f"measuring {spec.model.display_name} in {total} worker processes", total=total)
        return evaluate(spec.model, spec, store=store, on_progress=progress_callback(progress, task), plan=plan)


def show_preflight(spec, settings=None) -> None:
    """--dry-run: every check a run makes before its first worker, then stop."""
    if settings is None:
        from honed.run.plan import plan_run

        plan = plan_run(spec.model, spec)
        device, task, warnings = plan.device, plan.task, list(plan.warnings)
        what = f"recipe {' + '.join(step.algorithm for step in plan.steps) or 'none'}"
    else:
        from honed.tuning.plan import plan_sweep

        sweep = plan_sweep(spec.model, spec, settings)
        device, task = sweep.run.device, sweep.run.task
        warnings = [f"skipped {label}: {why}" for label, why in sweep.skipped.items() if why != "excluded"]
        what = (
            f"{len(sweep.candidates)} candidates ({', '.join(recipe.label for recipe in sweep.candidates) or 'none'})"
        )
        if settings.search != "list":
            from honed.optimization import ALGORITHMS

            names = sorted({recipe.steps[0].algorithm for recipe in sweep.candidates})
            knobs = sum(len(ALGORITHMS.get(name).space) for name in names)
            starts = "the candidates first" if settings.starts else "no starting points"
            what = f"a {settings.search} search (seed {settings.seed}) over {len(names)} algorithms and {knobs} knobs, "
            what += f"{starts}: {', '.join(names) or 'none'}"
    for warning in warnings:
        err.print(f"WARNING: {warning}", style="bold yellow", highlight=False, markup=False)
    if settings is not None and sweep.held_out:
        out.print(sweep.held_out, highlight=False, markup=False)
    out.print(
        f"ok: {spec.model.display_name} ({spec.model.kind}) on {device}, {what}, "
        f"task {task.name if task else 'none'}; nothing was run (--dry-run)",
        highlight=False,
        markup=False,
    )


def show_run(record) -> None:
    from honed.console import coverage_warnings, load_lines, load_table, run_details, run_tables, stability_warning

    if record.load is not None:
        out.print(load_table(record))
        for line in [*load_lines(record.load), *record.notes]:
            out.print(line, highlight=False, markup=False)
        return
    for table in run_tables(record):
        out.print(table)
    for line in run_details(record):
        out.print(line, highlight=False, markup=False)
    for warning in [*coverage_warnings(record), stability_warning(record)]:
        if warning is not None:
            err.print(warning, style="bold yellow", highlight=False, markup=False)
    for m in record.measurements:
        if m.status != "ok":
            out.print(f"[red]batch {m.batch_size} rep {m.repetition + 1}: {m.status}[/]: {m.error}", highlight=False)


def run_tune(spec, settings, db, fresh: bool = False):
    from honed.console import tune_summary, tune_table, tune_trial_line
    from honed.tuning import tune as tune_model
    from honed.tuning.plan import plan_sweep

    plan = plan_sweep(spec.model, spec, settings)  # most users' models have no task: it guards on agreement
    guarding = plan.task.name
    err.print(
        f"[bold]tuning[/] {spec.model.display_name} on {guarding}: objective {settings.objective}, "
        f"{settings.guardrail.describe(settings.guardrail.metric or 'the primary metric')}; store {db.url}"
    )
    if plan.held_out:
        err.print(plan.held_out, highlight=False, markup=False)
    with err.status("starting") as status:

        def on_event(kind, payload):
            if kind == "start":
                status.update(f"trial: {payload}")
            elif kind == "retry":
                label, stability = payload
                err.print(
                    f"{label}: contended ({'; '.join(stability.reasons)}); measuring again",
                    style="yellow",
                    highlight=False,
                    markup=False,
                )
            else:
                err.print(tune_trial_line(*payload), highlight=False)

        result = tune_model(spec.model, spec, settings, store=db, on_event=on_event, fresh=fresh, plan=plan)
    out.print(tune_table(result))
    for line in tune_summary(result):
        out.print(line, highlight=False)
    out.print(f"sweep [bold]{result.id[:12]}[/]; `honed report {result.id[:12]}` writes its HTML report")
    return result


def write_report(result_or_id, path: Path, db) -> None:
    from honed.report import write_report as write

    write(result_or_id, path, db)
    out.print(f"wrote the report to {path}")
