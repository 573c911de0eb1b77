"""Monocular depth metrics (Eigen et al., 2014), as computed by monodepth2 and BTS: per image
over valid pixels (min_depth < ground truth < max_depth, and the optional mask), predictions
clamped to [min_depth, max_depth], then averaged over images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

from honed.tasks.metrics.registry import register_metric

REFERENCE = "Eigen, Puhrsch & Fergus 2014; monodepth2 compute_depth_errors"


def _per_image(statistic: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    def compute(
        predictions: torch.Tensor,
        references: torch.Tensor,
        min_depth: float = 1e-3,
        max_depth: float = 80.0,
        mask: torch.Tensor | None = None,
        median_scaling: bool = False,
    ) -> float:
        pred, gt = predictions.double(), references.double()
        if pred.shape != gt.shape:
            raise ValueError(f"predictions {tuple(pred.shape)} and references {tuple(gt.shape)} differ in shape")
        if gt.ndim == 2:
            pred, gt = pred[None], gt[None]
            mask = mask[None] if mask is not None else None
        values = []
        for i in range(gt.shape[0]):
            valid = (gt[i] > min_depth) & (gt[i] < max_depth)
            if mask is not None:
                valid &= mask[i].bool()
            if valid.any():
                scored, truth = pred[i][valid], gt[i][valid]
                if median_scaling:  # a relative-depth model's scale, taken from each image's ground truth
                    scored = scored * truth.median() / scored.median()
                values.append(statistic(scored.clamp(min_depth, max_depth), truth))
        if not values:
            raise ValueError("no valid pixels: every ground-truth depth is outside (min_depth, max_depth) or masked")
        return torch.stack(values).mean().item()

    return compute


def _delta(power: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return lambda p, g: (torch.maximum(g / p, p / g) < 1.25**power).double().mean()


Statistic = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_METRICS: tuple[tuple[str, Literal["higher", "lower"], str, str, Statistic], ...] = (
    ("abs_rel", "lower", "fraction", "mean |gt - pred| / gt", lambda p, g: ((g - p).abs() / g).mean()),
    ("sq_rel", "lower", "depth units", "mean (gt - pred)^2 / gt", lambda p, g: ((g - p) ** 2 / g).mean()),
    ("rmse", "lower", "depth units", "sqrt(mean (gt - pred)^2)", lambda p, g: ((g - p) ** 2).mean().sqrt()),
    (
        "rmse_log",
        "lower",
        "log depth",
        "sqrt(mean (ln gt - ln pred)^2)",
        lambda p, g: ((g.log() - p.log()) ** 2).mean().sqrt(),
    ),
    ("delta1", "higher", "fraction", "share of pixels with max(gt/pred, pred/gt) < 1.25", _delta(1)),
    ("delta2", "higher", "fraction", "share of pixels with max(gt/pred, pred/gt) < 1.25^2", _delta(2)),
    ("delta3", "higher", "fraction", "share of pixels with max(gt/pred, pred/gt) < 1.25^3", _delta(3)),
)
for _name, _better, _unit, _summary, _statistic in _METRICS:
    register_metric(_name, _better, _unit, _summary, REFERENCE)(_per_image(_statistic))
