"""Cityscapes as laid out on disk (cityscapes-dataset.com): ``leftImg8bit/<split>/<city>/
<name>_leftImg8bit.png`` beside ``gtFine/<split>/<city>/<name>_gtFine_labelIds.png``, each label id
mapped to the 19 classes the benchmark scores (its train ids), every other id ignored (255).
mIoU over those 19 accumulated over the split is the number papers report (on ``val``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from honed.core.errors import SpecError
from honed.tasks.media_files import MAX_ITEMS, data_directory

IGNORED = 255
# label id -> train id, from cityscapesScripts' helpers/labels.py: road, sidewalk, building, wall,
# fence, pole, traffic light, traffic sign, vegetation, terrain, sky, person, rider, car, truck,
# bus, train, motorcycle, bicycle. The other 15 ids (unlabeled, ego vehicle, parking, rail track,
# guard rail, bridge, tunnel, polegroup, caravan, trailer, ...) are not evaluated.
TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13,
             27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip
CLASSES = len(TRAIN_IDS)
LAYOUT = "leftImg8bit/<split>/<city>/<name>_leftImg8bit.png beside gtFine/<split>/<city>/<name>_gtFine_labelIds.png"
_LOOKUP = np.full(256, IGNORED, dtype=np.uint8)
_LOOKUP[list(TRAIN_IDS)] = list(TRAIN_IDS.values())


def cityscapes_pairs(path: str | Path, split: str) -> list[tuple[Path, Path]]:
    """(image, label ids) of every image of ``split``, in sorted city and name order."""
    root = data_directory(path, f"a Cityscapes directory: {LAYOUT}")
    images = sorted((root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"))
    if not images:
        raise SpecError("task.options.data", str(root), f"a Cityscapes directory with {split!r} images: {LAYOUT}")
    if len(images) > MAX_ITEMS:
        raise SpecError("task.options.data", str(root), f"at most {MAX_ITEMS} images in split {split!r}")
    pairs = []
    for image in images:
        name = image.name.removesuffix("_leftImg8bit.png")
        labels = root / "gtFine" / split / image.parent.name / f"{name}_gtFine_labelIds.png"
        if not labels.is_file():
            raise SpecError(f"task.options.data ({image.name})", str(labels), f"its label ids: {LAYOUT}")
        pairs.append((image, labels))
    return pairs


def train_ids(label_ids: Any) -> Any:
    """A ``*_labelIds.png`` image (PIL, mode L) as the benchmark's train ids, 255 where not scored."""
    from PIL import Image

    return Image.fromarray(_LOOKUP[np.asarray(label_ids, dtype=np.uint8)])
