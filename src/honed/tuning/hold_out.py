"""A tune whose candidates learn from the task's items (static int8 calibrates its activation
ranges on them, distillation trains on them) holds a share of those items out of its scoring, so
that no recipe is judged on the items it learned from: the first ``hold_out`` of the items
calibrate and train (``[task] options = { calibration = N }``, which a user may set instead), the
rest are scored, for the base model and every recipe alike.

Measured (session 23, MiniLM, 24 pairs): layer-distill judged on the pairs it trained on kept
pooled cosine above the floor; judged on 16 pairs held out of 8 it fell to 0.78.
"""

from __future__ import annotations

from honed.core.protocol import Step, TaskSpec
from honed.optimization import ALGORITHMS

MIN_ITEMS = 8  # fewer: nothing is held out (a split would leave too little to calibrate or judge on)


def learners(steps: list[Step], knob_search: bool) -> list[str]:
    """The algorithms among ``steps`` that learn from the task's items: with their parameters in a
    list search; in a knob search any algorithm that can, since its points are drawn later."""
    names = []
    for step in steps:
        algorithm = ALGORITHMS.get(step.algorithm)
        if algorithm.learns is None:
            continue
        if knob_search or algorithm.learns(algorithm.params(**step.params)):
            names.append(step.algorithm)
    return sorted(set(names))


def held_out(task: TaskSpec, learning: list[str], share: float) -> tuple[TaskSpec, str | None]:
    """The task with its first ``share`` of items held out for calibration, and a line that says
    so; the task unchanged (and None) when nothing learns, the user split it, or it is too small."""
    if not learning or share <= 0 or "calibration" in task.options:
        return task, None
    from honed.tasks import build_task

    built = build_task(task)
    if not built.item_inputs or not built.holds_items:
        return task, None  # its items are no model inputs (language modelling, multiple choice): nothing learns them
    count = built.item_count
    if count < MIN_ITEMS:
        return task, None
    kept = max(1, round(count * share))
    split = task.model_copy(update={"options": {**task.options, "calibration": kept}})
    verb = "learns" if len(learning) == 1 else "learn"
    note = (
        f"the first {kept} of the task's {count} items are held out for calibration and training "
        f"({', '.join(learning)} {verb} from them) and never scored: quality is judged on the other "
        f"{count - kept} (tune.hold_out; [task] options = {{ calibration = N }} sets the split)"
    )
    return split, note
