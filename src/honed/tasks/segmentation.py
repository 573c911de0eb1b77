"""Semantic segmentation: mIoU and pixel accuracy over labelled images.

``SegmentationTask.shapes()`` generates a labelled set (background, rectangles, discs, each
with its own colour plus noise), so a model can be trained and judged with no download; ``data``
reads a user's images and masks (honed.tasks.media_files; each model reads the images as
honed.tasks.images says).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from honed.core.errors import SpecError
from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task, aligned_batches
from honed.tasks.cityscapes import CLASSES, IGNORED, cityscapes_pairs, train_ids
from honed.tasks.images import ImageItems, Reading, check_aligned, generated_side, resized_targets
from honed.tasks.media_files import paired_files, read_image


@TASKS.register("semantic-segmentation")
class SegmentationTask(ImageItems, Task):
    name = "semantic-segmentation"
    metrics = ("miou", "pixel_accuracy")
    primary = "miou"
    item_fields = ("images", "masks")

    def __init__(
        self, images: torch.Tensor | list[Any], masks: torch.Tensor, num_classes: int, ignore_index: int = 255
    ):
        check_aligned(images, masks, "masks")
        self.images, self.masks, self.num_classes, self.ignore_index = images, masks, num_classes, ignore_index

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return aligned_batches(self.images, self.masks, batch_size, limit)

    def predict(self, handle: ModelHandle, inputs: Any) -> torch.Tensor:
        logits = super().predict(handle, inputs)
        if logits.shape[-2:] != self.masks.shape[-2:]:
            # Models such as SegFormer predict at a lower resolution: upsample as their post-processing does.
            logits = torch.nn.functional.interpolate(
                logits, size=self.masks.shape[-2:], mode="bilinear", align_corners=False
            )
        return logits

    def metric_options(self, limit: int | None = None) -> dict[str, dict[str, Any]]:
        options = {"num_classes": self.num_classes, "ignore_index": self.ignore_index}
        return {"miou": options, "pixel_accuracy": options}

    @classmethod
    def default(
        cls,
        count: int = 64,
        size: int | list[int] | None = None,
        seed: int = 0,
        data: str | None = None,
        num_classes: int | None = None,
        ignore_index: int = 255,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        layout: str = "folders",
        split: str = "val",
    ) -> SegmentationTask:
        """Generated 3x32x32 images of a rectangle and a disc on a background (3 classes); or
        ``data``: DIR/images/<name>.png with DIR/masks/<name>.png holding each pixel's class
        number (``ignore_index`` unlabelled), masks scored at ``size`` or the first mask's size;
        ``num_classes`` defaults to the largest class number found plus one. ``layout =
        "cityscapes"``: a Cityscapes directory's ``split``, scored on its 19 classes (cityscapes.py)."""
        if data is None:
            return cls.shapes(count, generated_side(size), seed)
        reading = Reading.checked(size, mean, std)
        if layout == "cityscapes":
            return cls._cityscapes(data, split, reading, num_classes)
        if layout != "folders":
            raise SpecError("task.options.layout", layout, "'folders' (DIR/images beside DIR/masks) or 'cityscapes'")
        pairs = paired_files(data, "masks", "each pixel's class number")
        masks = resized_targets([read_image(mask, mode=None) for _, mask in pairs], reading.size, 1.0, torch.long)
        labelled = masks[masks != ignore_index]
        if labelled.numel() == 0:
            raise SpecError("task.options.data", data, f"masks with labelled pixels (not all {ignore_index})")
        found = int(labelled.max()) + 1
        if num_classes is not None and found > num_classes:
            raise SpecError(
                "task.options.num_classes", num_classes, f"at least {found}: the masks hold class {found - 1}"
            )
        task = cls([read_image(image) for image, _ in pairs], masks, num_classes or found, ignore_index)
        task.reading = reading
        return task

    @classmethod
    def _cityscapes(cls, data: str, split: str, reading: Reading, num_classes: int | None) -> SegmentationTask:
        if num_classes not in (None, CLASSES):
            raise SpecError("task.options.num_classes", num_classes, f"{CLASSES}, the classes Cityscapes scores")
        pairs = cityscapes_pairs(data, split)
        labels = [train_ids(read_image(labels, mode=None)) for _, labels in pairs]
        task = cls([read_image(image) for image, _ in pairs], resized_targets(labels, reading.size, 1.0, torch.long),
                   CLASSES, IGNORED)  # fmt: skip
        task.reading = reading
        return task

    @classmethod
    def shapes(cls, count: int = 64, size: int = 32, seed: int = 0) -> SegmentationTask:
        """Images with a background (class 0), a rectangle (class 1) and a disc (class 2)."""
        generator = torch.Generator().manual_seed(seed)
        colours = torch.tensor([[0.2, 0.3, 0.2], [0.9, 0.3, 0.2], [0.2, 0.4, 0.9]])
        masks = torch.zeros(count, size, size, dtype=torch.long)
        rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        for i in range(count):
            top, left = torch.randint(0, size // 2, (2,), generator=generator).tolist()
            height, width = torch.randint(size // 5, size // 2, (2,), generator=generator).tolist()
            masks[i, top : top + height, left : left + width] = 1
            cy, cx = torch.randint(size // 4, 3 * size // 4, (2,), generator=generator).tolist()
            radius = int(torch.randint(size // 8, size // 4, (1,), generator=generator))
            masks[i][(rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2] = 2
        images = colours[masks].permute(0, 3, 1, 2) + 0.15 * torch.randn(count, 3, size, size, generator=generator)
        return cls(images.float(), masks, num_classes=3)
