"""``evaluate``: measure a model's performance under a protocol, in worker processes."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from honed.core import fingerprint as fingerprints
from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef, Protocol, RunSpec, Step, TargetSpec, TaskSpec
from honed.measure.executor import run_job, run_quality_job
from honed.measure.stability import judge
from honed.measure.summary import summarize
from honed.measure.worker import Job
from honed.records.record import Measurement, QualityResult, RunRecord
from honed.run.legacy import EVALUATE_PARAMETERS, accepts_0_1_form
from honed.run.plan import RunPlan, check_task, plan_run, recipe_steps
from honed.run.target import measure_peaks, peaks_key, resolve_device
from honed.store import Store
from honed.store.keep import keep_run

# Called after each worker with (done, total, what it produced).
ProgressCallback = Callable[[int, int, "Measurement | QualityResult"], None]


@accepts_0_1_form(EVALUATE_PARAMETERS, renamed={"checked": "plan"})
def evaluate(
    model: Any,
    spec: RunSpec | None = None,
    *,
    store: Store | None = None,
    on_progress: ProgressCallback | None = None,
    plan: RunPlan | None = None,
    kept: Path | None = None,
    scored: QualityResult | None = None,
) -> RunRecord:
    """Measure ``model`` (a ModelRef, a ModelHandle or an in-memory torch.nn.Module) as ``spec``
    says: its protocol, inputs, target, recipe and task.

    Each (batch size, repetition) runs in a fresh worker process; a worker that crashes or
    times out becomes a failed Measurement and the sweep goes on. The record is added to
    ``store`` when one is given. ``spec.recipe`` is applied to the model in each worker; a
    handle returned by ``optimize`` carries its own. With a task, one more worker scores the
    model's quality on the task's data (and, with a recipe, its agreement with the base model):
    ``record.quality``. ``plan``: what ``plan_run(model, spec)`` returned (its checks are not
    repeated; a tune passes each trial's). ``kept``: where a runtime step's files are kept for the
    run's workers (kept_files.py), so that a quality screen's conversion of the same recipe is
    reused (default: a directory of this run's). ``scored``: the quality that screen measured on
    this run's task and protocol, with ``kept`` holding its conversion: no quality worker runs
    again. The 0.1 form ``evaluate(model, protocol, inputs,
    target, name=, recipe=, task=)`` still works, with a DeprecationWarning.
    """
    spec = spec or RunSpec()
    protocol, inputs, target, name = spec.protocol, spec.inputs, spec.target, spec.name
    notes: list[str] = []
    plan = plan or plan_run(model, spec)
    device, steps, task = plan.device, list(plan.steps), plan.task
    notes.extend(f"warning: {warning}" for warning in plan.warnings)
    host = fingerprints.collect()
    peaks, peaks_note = _peaks(target, host, device, protocol.threads, store)

    with tempfile.TemporaryDirectory(prefix="honed-") as tmp:
        workdir = Path(tmp)
        ref, handle_steps = _model_ref(model, workdir, notes)
        run_steps = recipe_steps(handle_steps + steps, device) if handle_steps else steps
        replay = {**_replay_context(model, bool(handle_steps), inputs, task), "kept": str(kept or workdir / "kept")}
        jobs = [
            Job(
                model=ref,
                task=task,
                inputs=inputs,
                protocol=protocol,
                device=device,
                batch_size=batch_size,
                # Every batch size collects model stats once, so one crashed batch size loses nothing.
                repetition=repetition,
                collect_model_stats=repetition == 0,
                recipe=run_steps,
                **replay,
                result_path=str(workdir / f"result-b{batch_size}-r{repetition}.json"),
            )
            # Repetitions are interleaved across batch sizes so slow drift touches all of them.
            for repetition in range(protocol.repetitions)
            for batch_size in protocol.batch_sizes
        ]
        scored = scored if kept is not None else None  # without the screen's files, the quality worker converts
        quality_job = (
            _quality_job(ref, run_steps, task, protocol, inputs, device, workdir, replay)
            if task and scored is None
            else None
        )
        measurements, quality, interrupted = _run_workers(jobs, quality_job, workdir, on_progress, _converts(run_steps))
        quality = quality or scored
    if interrupted:
        notes.append(f"interrupted by the user after {len(measurements)} of {len(jobs)} measurements")

    ok = [m for m in measurements if m.status == "ok"]
    stats = next((m.model_stats for m in ok if m.model_stats), None)
    results = summarize(measurements, protocol, target, peaks, stats)
    record = RunRecord(
        id=uuid.uuid4().hex,
        created_at=datetime.now(timezone.utc),
        name=name,
        status=_status(len(ok), len(jobs), quality),
        model=ref,
        model_stats=stats,
        recipe=run_steps,
        task=task.name if task else "performance",
        task_spec=task,
        quality=quality,
        inputs=inputs,
        protocol=protocol,
        target=target,
        device=device,
        peaks=peaks,
        peaks_note=peaks_note,
        fingerprint=host.model_copy(update={"runtime": ok[0].runtime if ok else {}}),
        measurements=measurements,
        results=results,
        stability=judge(measurements, results),
        notes=notes,
    )
    return keep_run(record, store, interrupted)


def _run_workers(
    jobs: list[Job],
    quality_job: Job | None,
    workdir: Path,
    on_progress: ProgressCallback | None,
    quality_first: bool = False,
) -> tuple[list[Measurement], QualityResult | None, bool]:
    """Each job in its own worker, in order, then the quality job; Ctrl-C keeps what finished.

    ``quality_first`` (a recipe with a runtime step, which a recipe's agreement task always goes
    with): the quality worker, untimed, converts the model and keeps it for the timed workers,
    so each one's cold start is load, read and compile, as a deployment's, the same in every
    repetition. A conversion that fails there is tried again, and reported, by the workers after it."""
    measurements: list[Measurement] = []
    quality = None
    total = len(jobs) + (quality_job is not None)

    def assess(job: Job) -> None:
        nonlocal quality
        quality = run_quality_job(job, workdir)
        if on_progress:
            on_progress(len(measurements) + 1, total, quality)

    try:
        if quality_job is not None and quality_first:
            assess(quality_job)
        for job in jobs:
            measurements.append(run_job(job, workdir))
            if on_progress:
                on_progress(len(measurements) + (quality is not None), total, measurements[-1])
        if quality_job is not None and quality is None:
            assess(quality_job)
    except KeyboardInterrupt:
        return measurements, quality, True
    return measurements, quality, False


def _converts(steps: list[Step]) -> bool:
    from honed.optimization import ALGORITHMS

    return any(ALGORITHMS.get(step.algorithm).family == "runtime" for step in steps)


def assess_quality(
    model: Any, spec: RunSpec, *, plan: RunPlan | None = None, kept: Path | None = None
) -> QualityResult:
    """Only the quality part of ``evaluate``: ``spec.task`` scored with ``spec.recipe`` applied, on
    ``spec.target`` under ``spec.protocol``'s seed and threads, in one worker process (a tune
    screens a recipe this way before spending time on performance; ``task.limit`` narrows it).
    ``plan``: the run plan of this model and recipe (a tune's trial), whose device and steps are
    used as they are. ``kept``: keep a runtime step's files there, for an ``evaluate`` of the same
    recipe and task to reuse."""
    if spec.task is None:
        raise SpecError("task", None, "a task to score (assess_quality scores quality only)")
    protocol, inputs, task = spec.protocol, spec.inputs, spec.task
    if plan is not None:
        device, steps = plan.device, list(plan.steps)
    else:
        task = check_task(task)
        device = resolve_device(spec.target)
        steps = recipe_steps(list(spec.recipe), device)
    with tempfile.TemporaryDirectory(prefix="honed-") as tmp:
        workdir = Path(tmp)
        ref, handle_steps = _model_ref(model, workdir, [])
        steps = recipe_steps(handle_steps + steps, device) if handle_steps else steps
        replay = {**_replay_context(model, bool(handle_steps), inputs, task), **({"kept": str(kept)} if kept else {})}
        return run_quality_job(_quality_job(ref, steps, task, protocol, inputs, device, workdir, replay), workdir)


def _quality_job(
    ref: ModelRef,
    steps: list[Step],
    task: TaskSpec,
    protocol: Protocol,
    inputs: InputSpec,
    device: str,
    workdir: Path,
    replay: dict[str, Any],
) -> Job:
    return Job(
        mode="quality",
        task=task,
        model=ref,
        inputs=inputs,
        protocol=protocol,
        device=device,
        batch_size=task.batch_size,
        repetition=0,
        collect_model_stats=False,
        result_path=str(workdir / "result-quality.json"),
        recipe=steps,
        **replay,
    )


def _replay_context(model: Any, from_handle: bool, inputs: InputSpec, task: TaskSpec | None) -> dict[str, Any]:
    """What the recipe replays with in the workers. A handle from optimize() keeps the inputs and
    task it was optimised with: a student distilled without a task stays that student in a run
    that has one. Otherwise the run's own inputs and task (so every worker builds one model)."""
    if from_handle:
        return {"recipe_inputs": model.optimize_inputs or inputs, "recipe_task": model.optimize_task}
    return {"recipe_inputs": inputs, "recipe_task": task}


def _status(ok: int, jobs: int, quality: QualityResult | None) -> Literal["ok", "partial", "failed"]:
    if ok == 0:
        return "failed"
    return "ok" if ok == jobs and (quality is None or quality.status == "ok") else "partial"


def _model_ref(model: Any, workdir: Path, notes: list[str]) -> tuple[ModelRef, list[Step]]:
    if isinstance(model, ModelRef):
        return model, []
    from honed.models.handle import ModelHandle

    if isinstance(model, ModelHandle):
        # An optimised handle is measured as its base plus its recipe, replayed in the worker.
        base = model.base or model
        if base.ref.options.get("in_memory") and hasattr(base, "module"):
            return _in_memory(base.module, workdir, notes, base.name), list(model.recipe)
        return base.ref, list(model.recipe)
    import torch

    if isinstance(model, torch.nn.Module):
        return _in_memory(model, workdir, notes, type(model).__name__), []
    raise TypeError(f"evaluate() takes a ModelRef, a ModelHandle or a torch.nn.Module, not {type(model).__name__}")


def _in_memory(module: Any, workdir: Path, notes: list[str], name: str) -> ModelRef:
    import torch

    path = workdir / "model.pt"
    torch.save(module, path)  # written by us for our own workers, so unpickling it is safe
    notes.append("model passed in memory: the workers loaded a copy; this record cannot reload the model")
    return ModelRef(kind="torch", source=str(path), allow_pickle=True, name=name, options={"in_memory": True})


def _peaks(target: TargetSpec, host: fingerprints.Fingerprint, device: str, threads: int | None, store: Store | None):
    if not target.measure_peaks:
        return None, "peak measurement disabled (target.measure_peaks = false)"
    key = peaks_key(host, device, threads)
    if store is not None and (cached := store.peaks(key)) is not None:
        return cached, None
    try:
        peaks = measure_peaks(device, threads)
    except Exception as error:
        return None, f"peak measurement failed: {error}"
    if store is not None:
        store.save_peaks(key, peaks)
    return peaks, None
