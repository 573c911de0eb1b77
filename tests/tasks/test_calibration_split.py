"""``[task] options = { calibration = N }``: a task's first N items calibrate (static quantization,
distillation, int8-mixed's search) and are never scored, so calibration and scoring share no item."""

from __future__ import annotations

import pytest
import torch

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, TaskSpec
from honed.models import load_model
from honed.optimization.algorithm import Context
from honed.tasks import build_task, evaluate_quality


def test_the_first_items_calibrate_and_the_rest_are_scored():
    task = build_task(TaskSpec(name="text-embedding", options={"calibration": 8}))
    everything = build_task(TaskSpec(name="text-embedding"))
    assert task.queries == everything.queries[8:] and task.passages == everything.passages[8:]
    assert task.calibration_part.queries == everything.queries[:8]
    drawn = task.sample(32, seed=0)
    assert set(drawn) <= set(everything.queries[:8])  # calibration and distillation draw held-out items only
    assert [q for batch in task.halves(4, 0) for q in batch] == everything.queries[:8]
    assert [q for batch in task.halves(4, 1) for q in batch] == everything.queries[8:]  # judged on scored items
    assert task.agreement_items(16) == "16 items of task text-embedding (8 others calibrated)"


def test_calibration_inputs_come_from_the_held_out_images_only(digits_cnn):
    spec = TaskSpec(name="image-classification", options={"calibration": 10})
    context = Context(target="cpu", inputs=InputSpec(shape=(1, 8, 8)), task=spec)
    handle = load_model(digits_cnn)
    held_out = build_task(TaskSpec(name="image-classification")).images[:10].flatten(1)
    drawn = context.batch(handle, 16, seed=3).flatten(1)
    assert all(bool((row == held_out).all(dim=1).any()) for row in drawn)
    scored = build_task(spec)
    quality = evaluate_quality(scored, handle)
    assert quality.items == len(build_task(TaskSpec(name="image-classification")).images) - 10
    assert not any(bool((image.flatten() == held_out).all(dim=1).any()) for image in scored.images[:20])


@pytest.mark.parametrize("count", [0, 24, "8", True, -1])
def test_a_split_that_leaves_nothing_on_either_side_is_refused(count):
    with pytest.raises(SpecError, match=r"task\.options\.calibration.*from 1 to 23 \(the task has 24 items\)"):
        build_task(TaskSpec(name="text-embedding", options={"calibration": count}))


def test_synthetic_agreement_inputs_have_no_split():
    with pytest.raises(SpecError, match="no calibration split"):
        build_task(TaskSpec(name="agreement", options={"calibration": 4}))
    assert torch.is_tensor(build_task(TaskSpec(name="image-classification", options={"calibration": 1})).labels)
