"""``tune``: search recipes under a quality guardrail and say why the search stopped.

Every trial (a recipe at a thread count) is screened for quality on a few items first where
asked, then measured in full (performance at each batch size plus quality on the whole task).
Its outcome is stored under a cache key as soon as it ends, so re-running the same command
resumes a killed sweep and repeats nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

from honed.core.protocol import ModelRef, RunSpec
from honed.run.legacy import TUNE_PARAMETERS, accepts_0_1_form
from honed.store import Store
from honed.tuning.cache import TrialCache
from honed.tuning.identity import host_identity, model_identity
from honed.tuning.judge import QualityJudge
from honed.tuning.knob_search import KnobSearch
from honed.tuning.loop import EventCallback, Search
from honed.tuning.plan import SweepPlan, plan_sweep
from honed.tuning.result import TuneResult
from honed.tuning.runner import TrialRunner, WorkerRunner
from honed.tuning.settings import TuneSettings


@accepts_0_1_form(TUNE_PARAMETERS, positional=(TuneSettings,))
def tune(
    model: ModelRef,
    spec: RunSpec | None = None,
    settings: TuneSettings | None = None,
    *,
    store: Store | None = None,
    on_event: EventCallback | None = None,
    runner: TrialRunner | None = None,
    fresh: bool = False,
    plan: SweepPlan | None = None,
) -> TuneResult:
    """Search recipes for ``model`` on ``spec.target``, keeping the quality of ``spec.task``
    within the guardrail of ``settings`` (``tune(model, spec, settings)``; default: a spec
    file's [tune] section, else the defaults).

    ``fresh``: measure every trial again rather than reuse stored outcomes (they are replaced).
    Without a task, quality is agreement with the base model's outputs on the run's inputs.
    ``plan``: what ``plan_sweep(model, spec, settings)`` returned (its checks are not repeated).
    The 0.1 form ``tune(model, task, target, protocol, inputs, settings, ...)`` still works, with
    a DeprecationWarning.
    """
    spec = spec or RunSpec()
    settings = settings or getattr(spec, "tune", None) or TuneSettings()
    plan = plan or plan_sweep(model, spec, settings)
    target, protocol, inputs, task = spec.target, spec.protocol, spec.inputs, plan.task
    cache = TrialCache(
        (
            model_identity(model),
            task.model_dump(mode="json"),
            inputs.model_dump(mode="json"),
            target.identity(),
            host_identity(),
        ),
        store,
        fresh,
    )
    result = TuneResult(
        id=cache.sweep_id(protocol, settings),
        created_at=datetime.now(timezone.utc),
        name=spec.name,
        model=model,
        task=task,
        inputs=inputs,
        protocol=protocol,
        target=target,
        settings=settings,
        skipped=plan.skipped,
        metric=plan.metric,
    )
    if runner is None and settings.objective == "peak_qps":
        from honed.tuning.peak_runner import PeakRunner

        runner = PeakRunner(
            model,
            plan.run,
            inputs,
            target,
            store,
            slo_p99_ms=settings.latency_slo_ms,
            step_seconds=settings.peak_step_seconds,
        )
    search = (Search if settings.search == "list" else KnobSearch)(
        result,
        QualityJudge(plan.metric, settings.guardrail),
        cache,
        runner or WorkerRunner(model, plan.run, inputs, target, store, protocol=protocol),
        on_event,
        plan.run.capabilities,
    )
    return search.run(list(plan.candidates))
