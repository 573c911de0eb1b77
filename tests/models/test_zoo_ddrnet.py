"""DDRNet-23 in honed's zoo: the published architecture and size, loaded by name without consent,
trained here on the generated shapes, and kept by the CNN paths (batch norm folded in
channels-last; OpenVINO static int8 calibrated on the task's images)."""

from __future__ import annotations

import pytest
import torch

from honed.core.protocol import InputSpec, ModelRef, TaskSpec
from honed.models import load_model
from honed.optimization import optimize
from honed.tasks import SegmentationTask, evaluate_quality
from honed.zoo import ddrnet_23


def _parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_ddrnet_23_has_the_papers_size_and_predicts_at_an_eighth():
    with torch.device("meta"):  # sizes without allocating
        full, slim = ddrnet_23(), ddrnet_23(planes=32)
    # Hong et al. 2021, Table 4 (Cityscapes, 19 classes): DDRNet-23 20.1 M, DDRNet-23-slim 5.7 M.
    assert round(_parameters(full) / 1e6, 1) == 20.1 and round(_parameters(slim) / 1e6, 1) == 5.7
    with torch.inference_mode():
        logits = ddrnet_23(classes=3, planes=8).eval()(torch.randn(2, 3, 64, 96))
    assert logits.shape == (2, 3, 8, 12)


@pytest.fixture(scope="module")
def trained_ddrnet():
    torch.manual_seed(0)
    ref = ModelRef(kind="factory", source="honed.zoo:ddrnet_23", options={"kwargs": {"classes": 3, "planes": 8}})
    handle = load_model(ref, seed=0)  # honed's own zoo: no trust_code needed
    train = SegmentationTask.shapes(count=256, size=64, seed=1)
    model = handle.module.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(6):
        for images, masks in train.batches(32):
            optimiser.zero_grad()
            logits = torch.nn.functional.interpolate(model(images), size=masks.shape[-2:], mode="bilinear")
            torch.nn.functional.cross_entropy(logits, masks).backward()
            optimiser.step()
    model.eval()
    return handle, SegmentationTask.shapes(count=32, size=64, seed=2)


@pytest.mark.slow
def test_trained_ddrnet_keeps_its_miou_through_the_cnn_paths(trained_ddrnet):
    handle, test = trained_ddrnet
    before = evaluate_quality(test, handle, batch_size=16).values["miou"]
    assert before > 0.6, before  # it learnt the shapes (chance is about 0.2)
    # Batch norm folded by torch.fx (43 of its 55 follow a convolution), NHWC layout: the same model.
    nhwc = optimize(handle, ["channels-last"], "cpu", InputSpec(shape=(3, 64, 64)))
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in nhwc.module.modules()) == 12
    assert evaluate_quality(test, nhwc, batch_size=16).values["miou"] == pytest.approx(before, abs=0.005)
    int8 = optimize(
        handle,
        [{"algorithm": "openvino", "params": {"quantization": "int8", "calibration_batches": 4}}],
        "cpu",
        InputSpec(shape=(3, 64, 64)),
        task=TaskSpec(name="semantic-segmentation", options={"count": 32, "size": 64, "seed": 3}),
    )
    assert "int8" in int8.stats().dtype.split(",")
    # A model of 80 k parameters trained for seconds is not confident everywhere: int8 moves its
    # mIoU by a few points either way, and by how much depends on the CPU's int8 kernels (measured
    # on an Intel Xeon with AMX 0.686 -> 0.650 and 0.695 -> 0.746; on an AMD EPYC with VNNI and no
    # AMX 0.615 -> 0.553, the same class on 88.5 % of pixels), while the predicted class stays the
    # same on most pixels. A broken int8 path would land near chance (mIoU about 0.2).
    after = evaluate_quality(test, int8, batch_size=16).values["miou"]
    same = (test.predict(int8, test.images).argmax(1) == test.predict(handle, test.images).argmax(1)).float().mean()
    assert abs(after - before) <= 0.08 and same >= 0.85, (before, after, same)
