"""The worker process: loads the model, times it under the protocol, writes one Measurement
(or, in quality mode, scores it on a task).

Run as ``python -m honed.measure.worker JOB.json``. The parent never trusts the worker to
finish: a crash, an OOM kill or a hang leaves no result file, and the parent records that.
"""

from __future__ import annotations

import time

WORKER_STARTED_NS = time.monotonic_ns()  # first thing: the end of interpreter start-up

import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Literal  # noqa: E402

from pydantic import BaseModel, ConfigDict  # noqa: E402

from honed.core.protocol import InputSpec, ModelRef, Protocol, Step, TaskSpec  # noqa: E402
from honed.measure.loops import timed_window, warm_up  # noqa: E402
from honed.models.handle import ModelHandle  # noqa: E402

WEIGHTLESS = "not loaded: the recipe ran the files the run's first worker converted"


class Job(BaseModel):
    """``mode`` performance: time one batch size; quality: score the model on ``task``."""

    model_config = ConfigDict(frozen=True)
    mode: Literal["performance", "quality"] = "performance"
    task: TaskSpec | None = None
    model: ModelRef
    inputs: InputSpec
    protocol: Protocol
    device: str
    batch_size: int
    repetition: int
    collect_model_stats: bool
    result_path: str
    recipe: list[Step] = []
    # What the recipe is replayed with (static quantization calibrates, distillation trains on it).
    recipe_inputs: InputSpec | None = None
    recipe_task: TaskSpec | None = None
    # Shared by the run's workers: a runtime step converts once and the others read what it kept.
    kept: str | None = None


def _seconds_since(start_ns: int, now_ns: int | None = None) -> float:
    return ((now_ns or time.monotonic_ns()) - start_ns) / 1e9


def _optimized(handle: ModelHandle, job: Job, coverage: bool = False) -> Any:
    # The recipe is replayed on the base model: deterministic, and recorded in the run.
    from honed.optimization import Recipe, optimize

    return optimize(
        handle,
        Recipe.of(*job.recipe),
        target=handle.device,
        inputs=job.recipe_inputs or job.inputs,
        task=job.recipe_task,
        coverage=coverage,
        kept=Path(job.kept) if job.kept else None,
    )


def _runs_kept_files(job: Job) -> bool:
    """A timed worker of a one-step runtime recipe that the run already converted: it runs the
    kept files, so its cold start and memory are those of the converted model, not of loading
    the source's weights first (the quality worker, which needs them, loads them)."""
    if not job.recipe or not job.kept:
        return False
    from honed.optimization import Recipe, runs_kept_files

    return runs_kept_files(Recipe.of(*job.recipe), Path(job.kept))


def _is_weightless(handle: ModelHandle) -> bool:
    """Built without its weights (``load_model(weights=False)``): said in the run's runtime facts."""
    parameters = getattr(getattr(handle, "module", None), "parameters", None)
    return parameters is not None and any(p.is_meta for p in parameters())


def assess(job: Job) -> dict[str, Any]:
    """Quality on the task's data; with a recipe, agreement with the base model's outputs too."""
    from honed.measure.decode_probe import decode_rate
    from honed.models import load_model
    from honed.tasks import agreement_of, build_task, evaluate_quality
    from honed.tasks.expected import against_expectation

    started = time.perf_counter()
    random.seed(job.protocol.seed)
    spec = job.task
    assert spec is not None, "a quality job has a task"
    task = build_task(spec)
    task.bind(job.inputs)
    handle = load_model(job.model, job.device, job.protocol.threads, job.protocol.seed)
    size, limit = spec.batch_size, spec.limit
    base_outputs = task.outputs(handle, size, limit) if job.recipe and task.supports_agreement else None
    if job.recipe:  # untimed here, so this worker also finds what each step changed
        handle = _optimized(handle, job, coverage=True)
        task.set_reference_outputs(base_outputs)
    result = evaluate_quality(task, handle, size, limit)
    agreement = (
        agreement_of(base_outputs, task.outputs(handle, size, limit), task.agreement_metrics)
        if base_outputs is not None
        else {}
    )
    scope = (
        f"{task.output_name} on {task.agreement_items(len(base_outputs))}"
        if agreement and base_outputs is not None
        else None
    )
    timing = dict(result.timing)
    if job.protocol.scope == "generate" and (rate := decode_rate(handle, job.inputs, job.protocol)) is not None:
        timing["decode_tokens_per_s"] = rate  # what a tune's screen ranks a generate-scope recipe by
    quality = result.model_copy(
        update={
            "agreement": agreement,
            "agreement_on": scope,
            "timing": timing,
            "seconds": time.perf_counter() - started,
            "coverage": handle.coverage,
        }
    )
    if spec.expect and not job.recipe:  # the base model: does it score what the spec expects?
        quality = against_expectation(quality, spec.expect)
    return {"status": "ok", "quality": quality.model_dump(mode="json")}


def _flops(handle: ModelHandle, model_batch: Any, model_inputs: Any) -> int | None:
    """FLOPs of one model-scope call; None for a handle that only runs whole pipelines
    (a CTranslate2 Whisper has no model-scope batch to count)."""
    from honed.core.errors import SpecError

    try:
        return handle.count_flops(model_batch if model_batch is not None else model_inputs())
    except SpecError:
        return None


def _task_sample(job: Job) -> tuple[Any, Any]:
    from honed.tasks import build_task

    assert job.task is not None, "a timed job with a task draws its items from it"
    task = build_task(job.task)
    task.bind(job.inputs)
    return task, task.sample(job.batch_size, job.protocol.seed)


def _input_generator(job: Job, handle: ModelHandle) -> Any:
    """Model-scope inputs: the model's synthetic generator, or items of the run's task."""
    if job.inputs.source != "task":
        return lambda: handle.example_inputs(job.batch_size, job.inputs, job.protocol.seed)

    def from_task() -> Any:
        task, raw = _task_sample(job)
        return task.model_inputs(handle, raw)

    return from_task


def _raw_inputs(job: Job, handle: ModelHandle) -> Any:
    if job.inputs.source == "task":
        return _task_sample(job)[1]
    return handle.raw_inputs(job.batch_size, job.inputs, job.protocol.seed)


def measure(job: Job, spawned_at_ns: int) -> dict[str, Any]:
    from honed.meters.memory import cuda_peaks, current_rss_bytes, peak_rss_bytes
    from honed.models import load_model

    protocol = job.protocol
    random.seed(protocol.seed)
    handle = load_model(job.model, job.device, protocol.threads, protocol.seed, weights=not _runs_kept_files(job))
    weightless = _is_weightless(handle)
    loaded_ns = time.monotonic_ns()
    optimized_ns = None
    if job.recipe:
        handle = _optimized(handle, job)
        optimized_ns = time.monotonic_ns()
    rss_after_load = current_rss_bytes()

    model_inputs = _input_generator(job, handle)
    first_tokens: list[int] = []
    data, call = _scoped_call(job, handle, model_inputs, first_tokens)

    with handle.inference_context():
        call()
        handle.synchronize()
        first_result_ns = time.monotonic_ns()
        flops = None
        if job.repetition == 0 and protocol.scope != "generate":  # a prompt's FLOPs are not a generation's
            flops = _flops(handle, data if protocol.scope == "model" else None, model_inputs)
        warmups = warm_up(call, handle.synchronize, protocol)

        first_tokens.clear()  # only the timed calls count
        timer, samples, seconds, meter, contention, torch = timed_window(handle, call, protocol)

    memory = {"rss_after_load_bytes": rss_after_load, "peak_rss_bytes": peak_rss_bytes()}
    if torch is not None:
        memory.update(cuda_peaks(torch, handle.device))
    return {
        "batch_size": job.batch_size,
        "repetition": job.repetition,
        "status": "ok",
        "timer": timer.name,
        "samples_ns": samples,
        "first_token_ns": first_tokens,
        "warmup_iterations": warmups,
        "timed_seconds": seconds,
        "cold_start": {
            "interpreter_s": _seconds_since(spawned_at_ns, WORKER_STARTED_NS),
            "loaded_s": _seconds_since(spawned_at_ns, loaded_ns),
            "optimized_s": _seconds_since(spawned_at_ns, optimized_ns) if optimized_ns else None,
            "first_result_s": _seconds_since(spawned_at_ns, first_result_ns),
        },
        "memory": memory,
        "energy": meter.reading.model_dump() if meter is not None and meter.reading else None,
        "flops_per_batch": flops,
        "model_stats": handle.stats().model_dump() if job.collect_model_stats else None,
        "runtime": {**handle.runtime_info(), **({"source_weights": WEIGHTLESS} if weightless else {})},
        "contention": contention.reading.model_dump() if contention.reading else None,
    }


def _scoped_call(job: Job, handle: ModelHandle, model_inputs: Callable[[], Any], first_tokens: list[int]):
    """The data and the call that the protocol's scope times: the model on prepared inputs, the
    whole pipeline on raw inputs, or greedy generation (recording each call's first token)."""
    protocol = job.protocol
    if protocol.scope == "pipeline":
        data = _raw_inputs(job, handle)
        handle.max_new_tokens = protocol.new_tokens
        return data, lambda: handle.run_pipeline(data)
    data = handle.prepare(model_inputs())  # converted here, once: the timed call is the model's alone
    if protocol.scope == "generate":
        from honed.measure.generation import greedy_generation

        return data, lambda: first_tokens.append(greedy_generation(handle, data, protocol.new_tokens))
    return data, lambda: handle.forward(data)


def _write_atomically(path: str, payload: dict[str, Any]) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    from honed.meters.lifeline import OUT_OF_MEMORY, bind_to_parent, is_out_of_memory, limit_memory

    job_path = Path(argv[1])
    spawned_at_ns = int(argv[2])  # taken by the parent just before spawning this process
    bind_to_parent(int(argv[3]), job_path.parent)
    job = Job.model_validate_json(job_path.read_text())
    if job.protocol.memory_limit_mib is not None:
        with contextlib.suppress(ImportError):
            import torch  # noqa: F401  (its libraries are start-up, not the model's memory)
        limit_memory(job.protocol.memory_limit_mib)
    try:
        result = assess(job) if job.mode == "quality" else measure(job, spawned_at_ns)
    except Exception as error:
        # A Python-level failure is reported with its message; crashes never reach here.
        from honed.core.errors import HonedError

        message = str(error) if isinstance(error, HonedError) else traceback.format_exc(limit=8)
        status = "error"
        if job.protocol.memory_limit_mib is not None and is_out_of_memory(error):
            status, message = (
                OUT_OF_MEMORY,
                f"exceeded protocol.memory_limit_mib={job.protocol.memory_limit_mib}: {error}",
            )
        result = {
            "batch_size": job.batch_size,
            "repetition": job.repetition,
            "status": status,
            "error": f"{type(error).__name__}: {message}".strip(),
        }
    _write_atomically(job.result_path, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
