"""Image classification: top-1 and top-5 over labelled images held in memory: scikit-learn's digits
(shipped), or a user's ImageFolder directory (``data``; see honed.tasks.images for how each model
reads the images)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from honed.tasks.base import TASKS, Task, aligned_batches
from honed.tasks.images import ImageItems, Reading
from honed.tasks.media_files import image_folder, read_image


@TASKS.register("image-classification")
class ImageClassificationTask(ImageItems, Task):
    name = "image-classification"
    metrics = ("top1", "top5")
    primary = "top1"
    item_fields = ("images", "labels")

    def __init__(self, images: torch.Tensor | list[Any], labels: torch.Tensor):
        if len(images) != labels.shape[0]:
            raise ValueError(f"{len(images)} images but {labels.shape[0]} labels")
        self.images, self.labels = images, labels
        self.classes: list[str] | None = None  # a user's class folder names, in label order

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[Any, torch.Tensor]]:
        return aligned_batches(self.images, self.labels, batch_size, limit)

    @classmethod
    def default(
        cls,
        split: str = "test",
        test_fraction: float = 0.3,
        seed: int = 0,
        data: str | None = None,
        size: int | list[int] | None = None,
        mean: list[float] | None = None,
        std: list[float] | None = None,
    ) -> ImageClassificationTask:
        """scikit-learn's 8x8 digits, the held-out 30 % (1x8x8 images, 10 classes); or ``data``, an
        ImageFolder directory (DIR/<class>/<image>; classes numbered in sorted name order, which
        must be the model's label order), read as each model reads images (``size``, ``mean``,
        ``std``: see honed.tasks.images)."""
        if data is None:
            return cls.digits(split, test_fraction, seed)
        reading = Reading.checked(size, mean, std)
        files, labels, classes = image_folder(data)
        task = cls([read_image(file) for file in files], torch.tensor(labels))
        task.classes, task.reading = classes, reading
        return task

    @classmethod
    def digits(cls, split: str = "test", test_fraction: float = 0.3, seed: int = 0) -> ImageClassificationTask:
        """scikit-learn's 8x8 handwritten digits (1,797 images, shipped with scikit-learn)."""
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        if split not in ("train", "test"):
            from honed.core.errors import SpecError

            raise SpecError("split", split, "'train' or 'test'")
        data = load_digits()
        images = torch.tensor(data.images, dtype=torch.float32)[:, None] / 16.0
        labels = torch.tensor(data.target, dtype=torch.long)
        train_x, test_x, train_y, test_y = train_test_split(
            images, labels, test_size=test_fraction, random_state=seed, stratify=labels
        )
        return cls(train_x, train_y) if split == "train" else cls(test_x, test_y)
