"""``honed serve``: a model, optimised by a recipe or not, over HTTP with dynamic batching."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from honed.cli import options as opt
from honed.cli.app import app, err
from honed.core.errors import SpecError

MAX_BODY_BYTES = 16 * 1024 * 1024
Recipe = Annotated[
    Optional[list[str]], typer.Option("--recipe", "-r", help="algorithm to apply before serving; repeat")
]


def model_spec(
    model: str,
    kind: Optional[str],
    recipe: Optional[list[str]],
    shape: Optional[str],
    allow_pickle: bool,
    trust_code: bool,
):
    """The model, its inputs and recipe, parsed and checked as ``honed evaluate`` does."""
    from honed.spec.build import build_spec

    return build_spec(
        None, model=model, kind=kind, recipe=recipe, shape=shape, allow_pickle=allow_pickle, trust_code=trust_code
    )


@app.command()
def serve(
    model: Annotated[
        Optional[str],
        typer.Argument(help="model source: path, hub id, package.module:function, or a saved honed directory"),
    ] = None,
    model_option: Annotated[
        Optional[str], typer.Option("--model", help="the model source, as the other commands take it (or MODEL)")
    ] = None,
    kind: opt.Kind = None,
    recipe: Recipe = None,
    shape: opt.Shape = None,
    host: Annotated[
        str, typer.Option(help="address to bind; anything but loopback exposes the model to the network")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on")] = 8000,
    max_batch: Annotated[int, typer.Option(help="queries run together at most (dynamic batching)")] = 8,
    max_wait_ms: Annotated[float, typer.Option(help="how long the first query of a batch waits for others")] = 2.0,
    max_queue: Annotated[
        Optional[int],
        typer.Option(
            help="items admitted and waiting at most; past it 503 with Retry-After. Default: what the copies run "
            "within --slo-ms (else 0.5 s), from the warm-up batch's time; 0: no bound",
            min=0,
        ),
    ] = None,
    request_timeout_ms: Annotated[
        float,
        typer.Option(
            help="a request's deadline: an item still queued then is dropped, never run, and answered 504 "
            "(a client may lower it with the x-honed-timeout-ms header)"
        ),
    ] = 30_000.0,
    slo_ms: Annotated[
        Optional[float],
        typer.Option(
            help="the latency objective: each request's deadline (an item the queue would keep past it is "
            "refused at once, 503), and the queue bound; once the oldest queued item has waited half of it "
            "the queue serves the newest first. Default: none (the bound holds 0.5 s of batches)",
        ),
    ] = None,
    queue_order: Annotated[
        str,
        typer.Option(
            help="adaptive: oldest first until a queue stands, then newest first (answers stay within the SLO "
            "under overload); fifo: always oldest first"
        ),
    ] = "adaptive",
    drain_seconds: Annotated[
        float, typer.Option(help="on SIGTERM, how long admitted requests have to be answered before exit")
    ] = 30.0,
    watchdog_seconds: Annotated[
        float, typer.Option(help="a model call longer than this fails its items (504) and marks the server unready")
    ] = 120.0,
    instances: Annotated[
        int, typer.Option(help="copies of the model, each on its own thread (Triton's instance groups)")
    ] = 1,
    threads: Annotated[
        Optional[int], typer.Option(help="threads per copy (default: the cores shared among the copies)")
    ] = None,
    allow_pickle: opt.AllowPickle = False,
    trust_code: opt.TrustCode = False,
    job: Annotated[
        Optional[Path], typer.Option(hidden=True, help="a ServeJob JSON file (model, recipe, inputs) instead of MODEL")
    ] = None,
) -> None:
    """Serve a model (optimised by a recipe, or an ONNX/OpenVINO artifact) over HTTP, with dynamic batching:
    POST /v1/predict {"inputs": [...]} or {"text": "..."}, and KServe v2's /v2/models/NAME/infer; a causal
    language model also answers OpenAI's /v1/completions and /v1/chat/completions (greedy, streamed or not).
    GET /health (alive), /ready (warmed up, not draining), /metrics (Prometheus), /v1/stats. Past --max-queue
    the server sheds load with 503, and once a queue stands it serves the newest first so answers stay within
    --slo-ms; SIGTERM drains what was admitted, then exits 0."""
    from honed.serve.server import ServeJob, ServeSettings, is_loopback
    from honed.serve.server import serve as run_server

    if model is not None and model_option is not None and model != model_option:
        raise SpecError("serve --model", model_option, f"the same model as MODEL ({model}), or only one of them")
    model = model or model_option
    if (model is None) == (job is None):
        raise SpecError("serve", "MODEL", "a model to serve (MODEL or --model)")
    if job is not None:
        from honed.core.safe_json import read_json

        what = ServeJob.model_validate(read_json(job.read_bytes(), f"--job {job}", MAX_BODY_BYTES))
    else:
        assert model is not None, "MODEL or --job, checked above"
        spec = model_spec(model, kind, recipe, shape, allow_pickle, trust_code)
        what = ServeJob(model=spec.model, recipe=list(spec.recipe), inputs=spec.inputs)
    if not is_loopback(host):
        err.print(f"warning: binding {host}: anyone who reaches this address can call the model", style="yellow")
    settings = ServeSettings(
        host=host,
        port=port,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        request_timeout_ms=request_timeout_ms,
        slo_ms=slo_ms,
        queue_order=queue_order,  # type: ignore[arg-type]  # checked by Admission, naming the field
        drain_seconds=drain_seconds,
        watchdog_seconds=watchdog_seconds,
        instances=instances,
        threads=threads,
    )
    run_server(
        what.model,
        what.recipe,
        what.inputs,
        settings,
        on_ready=lambda line: err.print(line, highlight=False, markup=False),
    )
