"""KITTI's Eigen split as the depth papers score it: a replica with KITTI's directory and file names,
16-bit ground truth at x256, a BTS-format split file; crop, 80 m cap and median scaling by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from honed.core.errors import SpecError
from honed.core.protocol import TaskSpec
from honed.tasks import build_task
from honed.tasks.metrics import get_metric

DRIVE = "2011_09_26_drive_0002_sync"
HEIGHT, WIDTH = 20, 40


def _kitti(root):
    """Raw images under root/raw, annotated depth under root/gt, and a split file naming three
    frames, the middle one without ground truth (the papers skip it)."""
    rows = np.linspace(5.0, 90.0, HEIGHT, dtype=np.float32)[:, None].repeat(WIDTH, 1)  # 90 m: past the cap
    for frame in (69, 70, 71):
        image = root / "raw" / "2011_09_26" / DRIVE / "image_02" / "data" / f"{frame:010d}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((HEIGHT, WIDTH, 3), frame, dtype=np.uint8)).save(image)
        if frame != 70:
            depth = root / "gt" / DRIVE / "proj_depth" / "groundtruth" / "image_02" / f"{frame:010d}.png"
            depth.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(rows * 256).astype(np.uint16)).save(depth)
    lines = [
        f"2011_09_26/{DRIVE}/image_02/data/{frame:010d}.png "
        + (f"{DRIVE}/proj_depth/groundtruth/image_02/{frame:010d}.png" if frame != 70 else "None")
        + " 721.5377"
        for frame in (69, 70, 71)
    ]
    (root / "eigen_test_files_with_gt.txt").write_text("\n".join(lines) + "\n")
    return root


def _task(root, **options):
    options = {"data": str(root / "raw"), "depth_data": str(root / "gt"),
               "split_file": str(root / "eigen_test_files_with_gt.txt"), **options}  # fmt: skip
    return build_task(TaskSpec(name="depth-estimation", options=options))


def _abs_rel(task, predictions):
    return get_metric("abs_rel").compute(predictions, task.depths, **task.metric_options()["abs_rel"])


def test_the_eigen_split_is_read_from_its_split_file_and_scored_as_the_papers_do(tmp_path):
    root = _kitti(tmp_path)
    task = _task(root)
    assert task.depths.shape == (2, HEIGHT, WIDTH)  # frame 70 has no ground truth: skipped
    truth = torch.linspace(5.0, 90.0, HEIGHT)[:, None].expand(HEIGHT, WIDTH)
    assert torch.allclose(task.depths[0], truth, atol=1 / 256)
    # Past 80 m (the last row) nothing counts, however wrong.
    capped = task.depths.clone()
    capped[:, -1] = 1000.0
    assert _abs_rel(task, capped) == pytest.approx(0.0, abs=1e-9)
    # Right inside the Garg crop (rows 8-18, columns 1-37 of 20x40), 3x too far outside it: only the
    # crop is scored.
    inside = torch.zeros(HEIGHT, WIDTH, dtype=torch.bool)
    inside[8:19, 1:38] = True
    predictions = torch.where(inside, task.depths, 3 * task.depths)
    garg = _task(root, crop="garg")
    assert _abs_rel(garg, predictions) == pytest.approx(0.0, abs=1e-9)
    assert _abs_rel(task, predictions) > 0.5
    # A relative-depth model (right up to a factor 2): median scaling finds the factor.
    assert _abs_rel(task, task.depths / 2) == pytest.approx(0.5)
    assert _abs_rel(_task(root, median_scaling=True), task.depths / 2) == pytest.approx(0.0, abs=1e-9)

    with pytest.raises(SpecError) as refused:
        _task(root, crop="center")
    assert refused.value.field == "task.options.crop"
    with pytest.raises(SpecError) as refused:
        _task(root, split_file=str(root / "eigen_test_files.txt"))
    assert refused.value.field == "task.options.split_file"
    (root / "raw" / "2011_09_26" / DRIVE / "image_02" / "data" / "0000000071.png").unlink()
    with pytest.raises(SpecError, match="line 3") as refused:
        _task(root)
    assert refused.value.field.startswith("task.options.data")
