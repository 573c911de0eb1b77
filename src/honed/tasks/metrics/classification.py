"""Classification: top-1 and top-5 accuracy (torchmetrics)."""

from __future__ import annotations

import torch

from honed.tasks.metrics.registry import register_metric


def _top_k(k: int):
    def compute(predictions: torch.Tensor, references: torch.Tensor) -> float:
        from torchmetrics.classification import MulticlassAccuracy

        classes = predictions.shape[-1]  # with k classes or fewer, every label is among the top k
        return MulticlassAccuracy(num_classes=classes, top_k=min(k, classes), average="micro")(
            predictions, references
        ).item()

    return compute


register_metric(
    "top1",
    "higher",
    "fraction",
    "share of items whose label has the highest score",
    "torchmetrics MulticlassAccuracy(top_k=1)",
)(_top_k(1))
register_metric(
    "top5",
    "higher",
    "fraction",
    "share of items whose label is among the 5 highest scores (1 for a model of 5 classes or fewer)",
    "torchmetrics MulticlassAccuracy(top_k=5)",
)(_top_k(5))
