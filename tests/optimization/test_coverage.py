"""Coverage: what each recipe step changed, so a step that does nothing is named, not sold."""

from __future__ import annotations

import pytest
import torch

from honed.core.protocol import InputSpec, ModelRef
from honed.models import load_model
from honed.optimization import optimize

CNN = ModelRef(kind="factory", source="honed.zoo:cnn", options={"kwargs": {"in_channels": 3, "width": 16}})
MLP = ModelRef(kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 64, "hidden": 128, "layers": 2}})


def _covered(ref, recipe, shape):
    return optimize(load_model(ref), recipe, inputs=InputSpec(shape=shape), coverage=True).coverage


def test_dynamic_int8_on_a_cnn_is_flagged_as_doing_almost_nothing():
    [step] = _covered(CNN, ["dynamic-int8"], (3, 32, 32))
    linear_layers = sum(isinstance(m, torch.nn.Linear) for m in load_model(CNN).module.modules())
    assert step.layers_changed == linear_layers < step.layers_total  # the convolutions are untouched
    assert step.flop_share is not None and step.flop_share < 0.05
    assert step.warning and "dynamic-int8 changed" in step.warning and "almost nothing" in step.warning


def test_steps_that_change_the_model_report_their_share():
    bf16, prune = _covered(MLP, ["bf16", "magnitude-prune"], (64,))
    by_name = {c.algorithm: c for c in (bf16, prune)}
    assert by_name["bf16"].parameter_share == pytest.approx(1.0) and by_name["bf16"].warning is None
    assert by_name["magnitude-prune"].layers_changed == by_name["magnitude-prune"].layers_total
    [quantized] = _covered(MLP, ["dynamic-int8"], (64,))
    assert quantized.flop_share == pytest.approx(1.0) and quantized.warning is None


@pytest.mark.slow
def test_coverage_is_off_unless_asked_and_a_runtime_step_moves_everything():
    assert optimize(load_model(MLP), ["bf16"], inputs=InputSpec(shape=(64,))).coverage == []
    [moved] = _covered(MLP, ["onnxruntime"], (64,))
    assert moved.what == "moved to onnx" and moved.parameter_share == 1.0


def test_known_bad_pairings_warn_before_any_work():
    from honed.core.protocol import RunSpec, TargetSpec
    from honed.run.plan import plan_run

    cpu = TargetSpec(device="cpu")
    ort_int8 = [{"algorithm": "onnxruntime", "params": {"quantization": "dynamic-int8"}}]
    [warning] = plan_run(CNN, RunSpec(inputs=InputSpec(shape=(3, 32, 32)), target=cpu, recipe=ort_int8)).warnings
    assert "onnxruntime dynamic int8 on a convolution network ran 3-4x slower" in warning
    assert (
        plan_run(MLP, RunSpec(inputs=InputSpec(shape=(64,)), target=cpu, recipe=ort_int8)).warnings == ()
    )  # fine on Linear layers
    assert plan_run(CNN, RunSpec(inputs=InputSpec(shape=(3, 32, 32)), target=cpu, recipe=["bf16"])).warnings == ()


def test_known_bad_pairings_are_judged_for_a_saved_transformers_model_too(tmp_path):
    """Read from the config on the meta device: a transformers ResNet is a convolution network."""
    from transformers import ResNetConfig, ResNetForImageClassification

    from honed.core.protocol import ModelRef, RunSpec, TargetSpec
    from honed.run.plan import plan_run

    ResNetForImageClassification(
        ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=3, image_size=32)
    ).save_pretrained(tmp_path / "resnet")
    ref = ModelRef(kind="transformers", source=str(tmp_path / "resnet"))
    spec = RunSpec(inputs=InputSpec(shape=(3, 32, 32)), target=TargetSpec(device="cpu"), recipe=["dynamic-int8"])
    [warning] = plan_run(ref, spec).warnings
    assert warning.startswith("dynamic-int8 on resnet: dynamic int8 quantizes Linear layers only")
