"""Image classification: top-1 and top-5 over labelled images held in memory."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from honed.tasks.base import TASKS, Task, aligned_batches


@TASKS.register("image-classification")
class ImageClassificationTask(Task):
    name = "image-classification"
    metrics = ("top1", "top5")
    primary = "top1"

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images, self.labels = images, labels

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return aligned_batches(self.images, self.labels, batch_size, limit)

    @classmethod
    def default(cls, split: str = "test", test_fraction: float = 0.3, seed: int = 0) -> ImageClassificationTask:
        """scikit-learn's 8x8 digits, the held-out 30 % (1x8x8 images, 10 classes)."""
        return cls.digits(split, test_fraction, seed)

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
