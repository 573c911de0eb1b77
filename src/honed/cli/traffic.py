"""``honed load``: traffic scenarios against any endpoint, or against a model served for the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from honed.cli import options as opt
from honed.cli.app import EXIT_MEASUREMENT_FAILED, app, err, open_store, out, progress_to_stderr
from honed.cli.load_command import LoadCommand
from honed.cli.serve import MAX_BODY_BYTES, Recipe, model_spec
from honed.core.errors import SpecError


@app.command()
def load(
    ctx: typer.Context,
    spec_file: Annotated[
        Optional[Path],
        typer.Argument(help="TOML file whose [load] table holds these options (command-line options override it)"),
    ] = None,
    url: Annotated[Optional[str], typer.Option(help="endpoint to send queries to (http:// or https://)")] = None,
    model: Annotated[
        Optional[str], typer.Option(help="serve this model in its own process (honed serve) and load it")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="honed (its open-loop HTTP driver) or loadgen (MLCommons LoadGen on --model in this process, no HTTP)"
        ),
    ] = "honed",
    kind: opt.Kind = None,
    recipe: Recipe = None,
    shape: opt.Shape = None,
    scenario: Annotated[
        str, typer.Option(help="server (Poisson), bursty (gamma), trace, single-stream, multi-stream or offline")
    ] = "server",
    qps: Annotated[float, typer.Option(help="mean arrival rate, queries per second (server, bursty)")] = 10.0,
    burstiness: Annotated[float, typer.Option(help="bursty: gamma shape, 1 is Poisson, below 1 burstier")] = 0.5,
    queries: Annotated[int, typer.Option(help="queries at most")] = 1000,
    duration: Annotated[float, typer.Option(help="seconds; no query is sent after this")] = 60.0,
    trace: Annotated[
        Optional[Path], typer.Option(help="trace scenario: arrival timestamps in seconds, one per line")
    ] = None,
    endpoint: Annotated[str, typer.Option(help="json, kserve-v2, openai-completions or openai-chat")] = "json",
    body: Annotated[Optional[str], typer.Option(help="the request body (a template) as JSON, or @FILE")] = None,
    prompts: Annotated[
        Optional[Path],
        typer.Option(
            help='prompts, one per line (.txt) or {"text": ...} per line (.jsonl): '
            "each query's replaces {{prompt}} in the body, in turn"
        ),
    ] = None,
    samples_per_query: Annotated[int, typer.Option(help="multi-stream: requests sent together as one query")] = 8,
    stream: Annotated[
        bool, typer.Option(help="OpenAI endpoints: stream tokens (time to first token, per token)")
    ] = False,
    header: Annotated[
        Optional[list[str]],
        typer.Option(help="NAME=ENV_VAR: a header whose value is read from the environment (never stored)"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds one query may take")] = 30.0,
    connections: Annotated[int, typer.Option(help="open connections at most")] = 256,
    slo_p99_ms: Annotated[
        Optional[float], typer.Option(help="latency SLO: report goodput and whether p99 meets it")
    ] = None,
    find_peak: Annotated[
        bool, typer.Option(help="search for the highest Poisson rate whose p99 meets --slo-p99-ms, from --qps up")
    ] = False,
    step_seconds: Annotated[float, typer.Option(help="--find-peak: seconds each rate runs")] = 10.0,
    min_duration: Annotated[float, typer.Option(help="a shorter run is reported as not valid")] = 0.0,
    min_queries: Annotated[int, typer.Option(help="fewer answered queries: not valid")] = 0,
    seed: Annotated[int, typer.Option(help="seed of the arrival times (and of the payloads, where generated)")] = 0,
    warmup: Annotated[int, typer.Option(help="queries sent one by one before the run, not counted")] = 10,
    insecure: Annotated[bool, typer.Option(help="do not verify TLS certificates")] = False,
    max_batch: Annotated[int, typer.Option(help="--model: the server's dynamic batch")] = 8,
    max_wait_ms: Annotated[float, typer.Option(help="--model: the server's batch wait")] = 2.0,
    allow_pickle: opt.AllowPickle = False,
    trust_code: opt.TrustCode = False,
    name: opt.Name = None,
    json_out: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="also write the versioned record to this file")
    ] = None,
    json: opt.Json = False,
    store: opt.Store = None,
) -> None:
    """Send a traffic scenario to an endpoint (or a model served for the run), open loop: latency
    counts from each query's scheduled arrival. The run is stored; `honed compare` compares two."""
    options = {name: value for name, value in locals().items() if name not in ("ctx", "spec_file")}
    if spec_file is not None:
        from honed.spec.load_file import read_load_spec

        # The file's values for the options the command line left at their defaults (typer bundles
        # its own click: its ParameterSource is compared by name).
        given = read_load_spec(spec_file)
        options |= {
            k: v for k, v in given.items() if getattr(ctx.get_parameter_source(k), "name", "DEFAULT") == "DEFAULT"
        }
    _load(LoadCommand.of(options))


def _load(c: LoadCommand) -> None:
    with progress_to_stderr(c.json):  # with --json, stdout holds only the record
        _run_load(c)


def _run_load(c: LoadCommand) -> None:
    from honed.load.endpoints import Endpoint, headers_from_env, read_prompts
    from honed.load.run import LoadSettings
    from honed.load.served import served

    _check_target(c.url, c.model, c.find_peak, c.slo_p99_ms, c.engine)
    settings = _settings(
        LoadSettings,
        scenario=c.scenario,
        qps=c.qps,
        burstiness=c.burstiness,
        queries=c.queries,
        duration_s=c.duration,
        trace=str(c.trace) if c.trace else None,
        timeout_s=c.timeout,
        connections=c.connections,
        slo_p99_ms=c.slo_p99_ms,
        min_duration_s=c.min_duration,
        min_queries=c.min_queries,
        seed=c.seed,
        verify_tls=not c.insecure,
        warmup_queries=c.warmup,
        samples_per_query=c.samples_per_query,
    )
    headers, db = headers_from_env(c.header or []), open_store(c.store)
    peak_steps = c.step_seconds if c.find_peak else None
    texts = read_prompts(c.prompts) if c.prompts else ()
    if c.engine == "loadgen":
        from honed.load.run import run_in_process

        assert c.model is not None, "loadgen runs a --model, checked by _check_target"
        spec = model_spec(c.model, c.kind, c.recipe, c.shape, c.allow_pickle, c.trust_code)
        with err.status(f"{settings.scenario}: MLCommons LoadGen is running the model"):
            record = run_in_process(
                spec.model, list(spec.recipe), spec.inputs, settings, c.max_batch, name=c.name, store=db
            )
    elif c.model is not None:
        spec = model_spec(c.model, c.kind, c.recipe, c.shape, c.allow_pickle, c.trust_code)
        with served(c.serve_args()) as base:
            target = Endpoint(f"{base}/v1/predict", "json", _body(c.body, spec.inputs.shape), prompts=texts)
            record = _drive(target, settings, headers, spec.model, list(spec.recipe), c.name, db, peak_steps)
    else:
        target = Endpoint(c.url, c.endpoint, _body(c.body, None), c.stream, texts)  # type: ignore[arg-type]
        record = _drive(target, settings, headers, None, None, c.name, db, peak_steps)
    _report(record, c.json_out, db, c.json)


def _check_target(
    url: Optional[str], model: Optional[str], find_peak: bool, slo_p99_ms: Optional[float], engine: str
) -> None:
    if find_peak and slo_p99_ms is None:
        raise SpecError("--find-peak", True, "a latency SLO to search under: add --slo-p99-ms")
    if (url is None) == (model is None):
        raise SpecError("load", "--url/--model", "exactly one of --url (an endpoint) and --model (served for the run)")
    if engine not in ("honed", "loadgen"):
        raise SpecError("--engine", engine, "honed or loadgen")
    if engine == "loadgen" and (model is None or find_peak):
        raise SpecError("--engine", engine, "honed for --url or --find-peak (LoadGen runs a --model in this process)")


def _settings(cls, **values: Any):
    """Validated load settings; the first bad value is named as a spec field."""
    from pydantic import ValidationError

    try:
        return cls(**values)
    except ValidationError as error:
        first = error.errors()[0]
        raise SpecError(f"load.{'.'.join(map(str, first['loc']))}", first.get("input"), first["msg"]) from None


def _report(record, json_out: Optional[Path], db, json: bool) -> None:
    from honed.cli.flows import show_run

    show_run(record)
    if json_out:
        json_out.write_text(record.to_json(indent=2))
    out.print(f"stored run [bold]{record.id}[/] in {db.url}")
    if json:
        print(record.to_json(indent=2))
    if record.status == "failed":
        raise typer.Exit(EXIT_MEASUREMENT_FAILED)


def _drive(target, settings, headers, ref, steps, name, db, peak_step_seconds: Optional[float]):
    from honed.load.run import run_load

    if peak_step_seconds is not None:
        return _find_peak(target, settings, headers, ref, steps, name, db, peak_step_seconds)
    with err.status(f"{settings.scenario}: sending queries") as status:
        return run_load(
            target,
            settings,
            headers,
            ref,
            steps,
            name,
            db,
            on_progress=lambda done, total: status.update(f"{settings.scenario}: {done} of {total} queries sent"),
        )


def _find_peak(target, settings, headers, ref, steps, name, db, step_seconds: float):
    """The search's runs are not stored; its confirming run at the peak is, with the whole search."""
    from honed.load.peak import PeakSettings, find_peak
    from honed.store.keep import keep_run

    peak = PeakSettings(slo_p99_ms=settings.slo_p99_ms, start_qps=settings.qps, step_seconds=step_seconds)

    def on_step(step) -> None:
        verdict = "meets" if step.passed else "misses"
        err.print(
            f"{step.qps:8.2f} q/s: p99 {step.p99_ms or float('nan'):.2f} ms {verdict} the SLO "
            f"(achieved {step.achieved_qps:.2f} q/s)",
            highlight=False,
            markup=False,
        )

    search, record = find_peak(target, settings, peak, on_step, headers=headers, model=ref, recipe=steps, name=name)
    if record is None:
        raise SpecError(
            "--slo-p99-ms",
            settings.slo_p99_ms,
            "an SLO the endpoint can meet at some rate",
            hint=f"every rate tried, down to {search.steps[-1].qps:.3g} q/s, missed it",
        )
    load = record.load
    assert load is not None, "find_peak returns a load run"
    record = record.model_copy(update={"load": load.model_copy(update={"peak": search})})
    return keep_run(record, db, False)


def _body(text: Optional[str], shape: Optional[tuple[int, ...]]) -> Optional[dict[str, Any]]:
    """The body given (JSON or @FILE), else one synthetic item for a served model with a shape,
    else None (the endpoint kind's own template)."""
    if text is None:
        from honed.load.served import synthetic_body

        return synthetic_body(shape)
    if text.startswith("@"):
        from honed.core.safe_json import read_json

        path = Path(text[1:])
        try:
            data = read_json(path.read_bytes(), f"--body {path}", MAX_BODY_BYTES)
        except OSError as error:
            raise SpecError("--body", str(path), "a readable JSON file", hint=error.strerror) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError("--body", text[:60], "a JSON object, or @FILE", hint=str(error)) from None
    if not isinstance(data, dict):
        raise SpecError("--body", text[:60], "a JSON object")
    return data
