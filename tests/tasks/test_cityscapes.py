"""Cityscapes as laid out on disk: a replica with the real directory and file names, label ids as
the dataset stores them, mapped to the 19 scored classes; mIoU checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from honed.core.errors import SpecError
from honed.core.protocol import TaskSpec
from honed.tasks import build_task
from honed.tasks.metrics import get_metric

# Label ids of a 2x4 frame: road (7), car (26), and ids the benchmark does not score: unlabeled
# (0), ego vehicle (1), parking (9). The train ids they become: road 0, car 13, the rest 255.
LABEL_IDS = np.array([[7, 7, 26, 0], [7, 9, 26, 1]], dtype=np.uint8)
TRAIN_IDS = np.array([[0, 0, 13, 255], [0, 255, 13, 255]])


def _cityscapes(root, split="val"):
    for city, name in [("frankfurt", "frankfurt_000000_000294"), ("lindau", "lindau_000001_000019")]:
        for folder, suffix, array in [
            ("leftImg8bit", "leftImg8bit", np.full((2, 4, 3), 128, dtype=np.uint8)),
            ("gtFine", "gtFine_labelIds", LABEL_IDS),
        ]:
            where = root / folder / split / city
            where.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(where / f"{name}_{suffix}.png")
    return root


def _task(**options):
    return build_task(TaskSpec(name="semantic-segmentation", options={"layout": "cityscapes", **options}))


def test_cityscapes_label_ids_become_the_19_scored_classes_and_miou_is_the_benchmarks(tmp_path):
    root = _cityscapes(tmp_path / "cityscapes")
    task = _task(data=str(root))
    assert task.num_classes == 19 and task.ignore_index == 255 and len(task.images) == 2
    assert torch.equal(task.masks, torch.from_numpy(np.stack([TRAIN_IDS, TRAIN_IDS])))
    # Road predicted everywhere: over the split's scored pixels, road 6 of 6 + 4 car pixels
    # (IoU 6/10), car 0 of 4 (IoU 0); the other 17 classes are absent from both and not averaged.
    road = torch.zeros(2, 19, 2, 4)
    road[:, 0] = 1.0
    options = task.metric_options()["miou"]
    assert get_metric("miou").compute(road, task.masks, **options) == pytest.approx((6 / 10 + 0) / 2)

    assert len(_task(data=str(_cityscapes(tmp_path / "train-only", split="train")), split="train").images) == 2
    with pytest.raises(SpecError, match="'val' images") as refused:
        _task(data=str(tmp_path / "train-only"))
    assert refused.value.field == "task.options.data"
    (root / "gtFine" / "val" / "lindau" / "lindau_000001_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(SpecError, match="lindau_000001_000019_gtFine_labelIds.png"):
        _task(data=str(root))
    with pytest.raises(SpecError) as refused:
        _task(data=str(root), num_classes=20)
    assert refused.value.field == "task.options.num_classes"
    with pytest.raises(SpecError, match="'folders'") as refused:
        _task(data=str(root), layout="ade20k")
    assert refused.value.field == "task.options.layout"
