"""Expected quality: a spec may state what its base model should score on the task (a published
number, last month's run), so the first question of a study, "does the base model replicate the
accuracy it should?", is answered before any recipe is judged against it."""

from __future__ import annotations

from honed.core.errors import SpecError
from honed.records.record import QualityResult


def check_expectation(expect: dict[str, float] | None, task: str, metrics: tuple[str, ...]) -> None:
    """Before any worker: every expected metric is one the task measures."""
    for name in expect or {}:
        if name != "tolerance" and name not in metrics:
            raise SpecError("task.expect", name, f"a metric of task {task!r}: {', '.join(metrics)}, and tolerance")


def against_expectation(quality: QualityResult, expect: dict[str, float]) -> QualityResult:
    """``quality`` with the verdict: reproduced when every expected metric is within the tolerance."""
    tolerance = expect["tolerance"]
    reproduced, parts = True, []
    for name, wanted in expect.items():
        if name == "tolerance":
            continue
        value = quality.values.get(name)
        reproduced = reproduced and value is not None and abs(value - wanted) <= tolerance
        shown = "not measured" if value is None else f"{value:.4g}"
        parts.append(f"{name} {shown} (expected {wanted:g} ± {tolerance:g})")
    verdict = "reproduced" if reproduced else "not reproduced"
    return quality.model_copy(update={"reproduced": reproduced, "expected": f"{verdict}: {', '.join(parts)}"})
