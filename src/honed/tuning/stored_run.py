"""A stored run reused instead of measuring again: the base model's as a tune's baseline
(``honed evaluate`` then ``honed tune`` with the same model, spec and machine measure the base
model once, not twice), and both columns of ``honed optimize -o``'s card (the tune's trial of the
same recipe is its "after").

A run is reused only when it is the same measurement the tune would make: the same model
reference (and its files unchanged since), protocol, inputs, target and task; the same host and
software (what the trial cache's key holds of them); measured without contention, with every
process and its quality ok; and recent (``TuneSettings.baseline_hours``: on a shared machine a
number drifts over hours, and a baseline from another day would skew every ratio of the sweep).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from honed.core import fingerprint as fingerprints
from honed.core.protocol import InputSpec, ModelRef, Protocol, Step, TargetSpec, TaskSpec
from honed.records.record import RunRecord, recipe_key_of
from honed.store import Store
from honed.tuning.identity import model_identity

# What must be equal between the run's machine and this one (hostname: the same machine).
_HOST_FIELDS = ("hostname", "python", "cpu.model", "cpu.logical_cores", "gpus", "packages", "env")


def stored_run(
    store: Store | None,
    model: ModelRef,
    steps: list[Step],
    protocol: Protocol,
    inputs: InputSpec,
    target: TargetSpec,
    task: TaskSpec,
    hours: float,
) -> RunRecord | None:
    """The newest stored run of ``model`` with the recipe ``steps`` (canonical; none: the base model)
    that measured what a new run of this spec would measure here, or None."""
    if store is None or hours <= 0:
        return None
    now = datetime.now(timezone.utc)
    host = fingerprints.collect()
    changed = _files_changed_at(model)
    for run in store.judged_runs(model.display_name, recipe_key_of(steps), task.name, now - timedelta(hours=hours)):
        same_spec = (run.model, run.protocol, run.inputs, run.target, run.task_spec) == (
            model,
            protocol,
            inputs,
            target,
            task,
        )
        if (
            same_spec
            and all(run.fingerprint.get(field) == host.get(field) for field in _HOST_FIELDS)
            and all(m.status == "ok" for m in run.measurements)
            and run.quality is not None
            and run.quality.status == "ok"
            and (changed is None or changed < run.created_at)
        ):
            return run
    return None


def _files_changed_at(model: ModelRef) -> datetime | None:
    """When the newest file behind a local model changed (None: a hub id, which carries its revision)."""
    times = [mtime_ns for files in model_identity(model)["files"] for _, _, mtime_ns in files]
    return datetime.fromtimestamp(max(times) / 1e9, timezone.utc) if times else None
