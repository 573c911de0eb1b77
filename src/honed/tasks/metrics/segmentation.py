"""Semantic segmentation: mIoU and pixel accuracy (torchmetrics), ignore_index pixels excluded.

mIoU averages the IoU of the classes present in the prediction or the ground truth (a class
absent from both has no IoU and is left out), as mmsegmentation does."""

from __future__ import annotations

import torch

from honed.tasks.metrics.registry import register_metric


def _labels(predictions: torch.Tensor) -> torch.Tensor:
    return predictions.argmax(1) if predictions.is_floating_point() else predictions  # logits (N, C, H, W)


@register_metric(
    "miou",
    "higher",
    "fraction",
    "mean over present classes of |pred ∩ gt| / |pred ∪ gt|",
    "torchmetrics MulticlassJaccardIndex (per class), nan-mean as mmsegmentation",
)
def mean_iou(predictions: torch.Tensor, references: torch.Tensor, num_classes: int, ignore_index: int = 255) -> float:
    from torchmetrics.classification import MulticlassJaccardIndex

    per_class = MulticlassJaccardIndex(
        num_classes=num_classes, average="none", ignore_index=ignore_index, zero_division=float("nan")
    )(_labels(predictions), references)
    return torch.nanmean(per_class).item()


@register_metric(
    "pixel_accuracy",
    "higher",
    "fraction",
    "share of labelled pixels predicted correctly",
    "torchmetrics MulticlassAccuracy(average='micro')",
)
def pixel_accuracy(
    predictions: torch.Tensor, references: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> float:
    from torchmetrics.classification import MulticlassAccuracy

    return MulticlassAccuracy(num_classes=num_classes, average="micro", ignore_index=ignore_index)(
        _labels(predictions), references
    ).item()
