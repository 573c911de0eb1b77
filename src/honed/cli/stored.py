"""The commands over stored runs: list, show, export, import, tag, compare, report, and a new
run against its baseline (``evaluate --baseline``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from honed.cli import options as opt
from honed.cli.app import EXIT_REGRESSION, app, open_store, out, print_json, progress_to_stderr, runs_app, sweeps_app
from honed.cli.flows import show_run, write_report


@app.command()
def compare(
    before: Annotated[str, typer.Argument(help="run id (or unique prefix, or tag) measured before")],
    after: Annotated[str, typer.Argument(help="run id (or unique prefix, or tag) measured after")],
    min_effect: opt.MinEffect = 0.02,
    strict: Annotated[
        bool,
        typer.Option(
            help="refuse when environment, protocol or inputs differ, or a run was contended or unstable (exit 4)"
        ),
    ] = False,
    fail_on_regression: opt.FailOnRegression = False,
    store: opt.Store = None,
    json: opt.Json = False,
) -> None:
    """Before/after per metric with confidence intervals and a verdict."""
    db = open_store(store)
    with progress_to_stderr(json):
        _judge(
            db.resolve(before), db.resolve(after), fail_on_regression, min_effect=min_effect, strict=strict, json=json
        )


@app.command()
def report(
    sweep_or_run: Annotated[str, typer.Argument(help="a tune sweep id or a run id (or a unique prefix)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write")] = Path("honed-report.html"),
    store: opt.Store = None,
) -> None:
    """A self-contained HTML report of a tune sweep or a run, with plots."""
    write_report(sweep_or_run, output, open_store(store))


def compare_with_baseline(db, record, baseline: str, fail_on_regression: bool, min_effect: float = 0.02) -> None:
    """``evaluate --baseline``: ``latest`` is the last comparable run stored before this one (same
    model, recipe, target and scenario); with none, this run becomes the first of its series."""
    from honed.core.errors import SpecError

    if baseline == "latest":
        before = db.previous(record)
        if before is None:
            out.print("no comparable run stored before this one: nothing to compare (it is the baseline now)")
            return
    else:
        before = db.resolve(baseline)
        if before.id == record.id:
            raise SpecError("baseline", baseline, "a run other than the one just measured (or latest)")
    out.print(f"against baseline run {before.id[:12]} ({before.created_at:%Y-%m-%d %H:%M} UTC):")
    _judge(before, record, fail_on_regression, min_effect=min_effect)


def _judge(before, after, fail_on_regression: bool, json: bool = False, **options) -> None:
    from honed.console import comparison_table
    from honed.records.comparison import compare as compare_runs

    result = compare_runs(before, after, **options)
    if json:
        print_json(result.model_dump(mode="json"))
    out.print(comparison_table(result))
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    worse = [f"{v.metric} at batch {v.batch_size} {v.verdict} by {abs(v.change):.1%}" for v in result.regressions]
    worse += [f"quality {q.metric} worse" for q in result.quality_regressions]
    if worse:
        out.print("[red]regression:[/] " + "; ".join(worse), highlight=False)
    if fail_on_regression and worse:
        raise typer.Exit(EXIT_REGRESSION)


@runs_app.command("tag")
def runs_tag(
    run_id: Annotated[str, typer.Argument(help="run id or unique prefix")],
    name: Annotated[
        str, typer.Argument(help="the tag, e.g. baseline or v1.2 (a tag names one run: tagging again moves it)")
    ],
    store: opt.Store = None,
) -> None:
    """Name a run (a baseline for `evaluate --baseline NAME` or `compare NAME RUN`)."""
    db = open_store(store)
    full_id = db.tag(run_id, name)
    out.print(f"tagged run {full_id} as {name!r}")


@runs_app.command("list")
def runs_list(
    model: Annotated[Optional[str], typer.Option(help="only runs of this model name")] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 20,
    store: opt.Store = None,
    json: opt.Json = False,
) -> None:
    """The most recent runs."""
    from honed.console import runs_list_table

    rows = open_store(store).list(limit=limit, model=model)
    if json:
        print_json([_columns(row, "id", "created_at", "name", "model_name", "recipe_label", "device", "status",
                                 "summary") for row in rows])  # fmt: skip
    else:
        out.print(runs_list_table(rows))


@sweeps_app.command("list")
def sweeps_list(
    limit: Annotated[int, typer.Option(help="at most this many, most recently updated first")] = 20,
    store: opt.Store = None,
    json: opt.Json = False,
) -> None:
    """The most recent tune sweeps (`honed report ID` writes one's report; the same `honed tune` resumes it)."""
    from honed.console import sweeps_table

    rows = open_store(store).sweeps(limit=limit)
    if json:
        print_json([_columns(row, "id", "updated_at", "name", "model_name", "stop_reason") for row in rows])
    else:
        out.print(sweeps_table(rows))


def _columns(row: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="run id, unique prefix or tag")],
    store: opt.Store = None,
    json: opt.Json = False,
) -> None:
    """One run: results, protocol, environment, failures."""
    record = open_store(store).resolve(run_id)
    if json:
        print(record.to_json(indent=2))
    else:
        show_run(record)


@runs_app.command("export")
def runs_export(
    run_ids: Annotated[list[str], typer.Argument(help="run ids, unique prefixes or tags")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="JSON file to write (one run)")] = None,
    mlflow: Annotated[
        Optional[str],
        typer.Option(help="log the runs to this MLflow tracking URI (file:./mlruns, http://...); needs honed[mlflow]"),
    ] = None,
    experiment: Annotated[str, typer.Option(help="--mlflow: the experiment to log into")] = "honed",
    store: opt.Store = None,
) -> None:
    """Write a run as versioned JSON (raw samples included), or log runs to MLflow."""
    from honed.core.errors import SpecError

    if (output is None) == (mlflow is None):
        raise SpecError("export", "-o / --mlflow", "one of -o FILE (a JSON export) or --mlflow URI")
    db = open_store(store)
    records = [db.resolve(run_id) for run_id in run_ids]
    if output is not None:
        if len(records) > 1:
            raise SpecError("export", run_ids, "one run for -o FILE (--mlflow takes several)")
        output.write_text(records[0].to_json(indent=2))
        out.print(f"wrote run {records[0].id} to {output}")
        return
    from honed.report.mlflow_export import log_runs

    assert mlflow is not None, "one of -o and --mlflow, checked above"
    for record, (mlflow_id, new) in zip(records, log_runs(records, mlflow, experiment, db)):
        out.print(f"run {record.id[:12]} {'logged to' if new else 'already in'} MLflow as {mlflow_id}", highlight=False)


@runs_app.command("import")
def runs_import(path: Path, store: opt.Store = None) -> None:
    """Add a run exported with `honed runs export` to this store."""
    from honed.core.errors import SpecError
    from honed.records.record import RunRecord

    if not path.is_file():
        raise SpecError("path", str(path), "an existing JSON file written by `honed runs export`")
    record = RunRecord.from_json(path.read_bytes())
    db = open_store(store)
    db.add(record)
    out.print(f"imported run {record.id} into {db.url}")


@app.command()
def dashboard(
    store: opt.Store = None,
    host: Annotated[str, typer.Option(help="address to bind; anything but loopback needs --token")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on")] = 8765,
    token: Annotated[
        Optional[str],
        typer.Option(
            envvar="HONED_DASHBOARD_TOKEN",
            help="every request must carry it (?token= once, or Authorization: Bearer) [env HONED_DASHBOARD_TOKEN]",
        ),
    ] = None,
) -> None:
    """A web dashboard over the store: runs, compare, trends with regressions marked, sweeps, models x targets."""
    import importlib.util

    import uvicorn

    from honed.core.errors import HonedError, SpecError

    if importlib.util.find_spec("plotly") is None:  # its charts are plotly.js, served from the plotly package
        raise HonedError("the dashboard draws its charts with plotly: pip install 'honed[dashboard]'")
    from honed.dashboard.app import create_app
    from honed.serve.server import is_loopback

    if not is_loopback(host) and not token:
        raise SpecError(
            "dashboard.host",
            host,
            "a loopback address (127.0.0.1), or give --token (or "
            "HONED_DASHBOARD_TOKEN) so that only those who have it can read the store",
        )
    if token is not None and len(token) < 16:
        raise SpecError("dashboard.token", "(hidden)", "at least 16 characters")
    db = open_store(store)
    shown = f"http://{host}:{port}/" + ("?token=..." if token else "")
    out.print(f"dashboard over {db.url} at {shown} (Ctrl-C stops it)", highlight=False)
    uvicorn.run(create_app(db, token), host=host, port=port, log_level="warning")
