"""Monocular depth estimation: Eigen et al. errors over valid pixels, depth capped.

``DepthEstimationTask.scenes()`` generates road-like scenes with exact depth: a ground plane
seen by a pinhole camera (depth = focal x camera height / rows below the horizon), boxes
standing on it, and sky with no depth (invalid, so masked out). Far things are hazier, the
cue a model can learn; so a model can be trained and judged with no download.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task, aligned_batches


@TASKS.register("depth-estimation")
class DepthEstimationTask(Task):
    name = "depth-estimation"
    metrics = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3")
    primary = "abs_rel"

    def __init__(self, images: torch.Tensor, depths: torch.Tensor, min_depth: float = 1e-3, max_depth: float = 80.0):
        if images.shape[0] != depths.shape[0] or images.shape[-2:] != depths.shape[-2:]:
            raise ValueError(f"images {tuple(images.shape)} and depths {tuple(depths.shape)} do not match")
        self.images, self.depths, self.min_depth, self.max_depth = images, depths, min_depth, max_depth

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return aligned_batches(self.images, self.depths, batch_size, limit)

    def predict(self, handle: ModelHandle, inputs: Any) -> torch.Tensor:
        depth = super().predict(handle, inputs)
        if depth.ndim == 4:  # (N, 1, H, W) from a CNN; DPT/GLPN give (N, H, W)
            depth = depth[:, 0]
        if depth.shape[-2:] != self.depths.shape[-2:]:
            depth = torch.nn.functional.interpolate(
                depth[:, None], size=self.depths.shape[-2:], mode="bilinear", align_corners=False
            )[:, 0]
        return depth

    def metric_options(self, limit: int | None = None) -> dict[str, dict[str, Any]]:
        return {name: {"min_depth": self.min_depth, "max_depth": self.max_depth} for name in self.metrics}

    @classmethod
    def default(cls, count: int = 64, size: int = 32, seed: int = 0) -> DepthEstimationTask:
        """Generated 3x32x32 scenes (ground, boxes, sky) with exact depth in metres, capped at 20."""
        return cls.scenes(count, size, seed)

    @classmethod
    def scenes(cls, count: int = 64, size: int = 32, seed: int = 0, max_depth: float = 20.0) -> DepthEstimationTask:
        generator = torch.Generator().manual_seed(seed)
        focal, camera_height = float(size), 1.5
        rows = torch.arange(size, dtype=torch.float32)[:, None].expand(size, size)
        cols = torch.arange(size)[None, :].expand(size, size)
        depths = torch.zeros(count, size, size)
        for i in range(count):
            horizon = float(torch.randint(size // 4, size // 2, (1,), generator=generator))
            below = rows - horizon
            depth = torch.where(below > 0, focal * camera_height / below.clamp(min=1e-6), torch.zeros(()))
            for _ in range(int(torch.randint(1, 3, (1,), generator=generator))):
                bottom = int(torch.randint(int(horizon) + 2, size, (1,), generator=generator))
                distance = focal * camera_height / (bottom - horizon)
                height = max(2, int(focal * 1.2 / distance))  # a 1.2 m tall box
                width = max(2, int(focal * float(torch.empty(1).uniform_(0.8, 2.0, generator=generator)) / distance))
                left = int(torch.randint(0, max(1, size - width), (1,), generator=generator))
                box = (rows >= bottom - height) & (rows < bottom) & (cols >= left) & (cols < left + width)
                depth = torch.where(box & ((depth == 0) | (depth > distance)), torch.full((), distance), depth)
            depths[i] = depth
        depths = torch.where(depths > max_depth, torch.zeros(()), depths)  # beyond the cap: no ground truth
        haze = torch.exp(-depths / 12.0)  # near is vivid, far fades into the haze colour
        ground, sky = torch.tensor([0.45, 0.35, 0.25]), torch.tensor([0.6, 0.75, 0.95])
        images = ground[:, None, None] * haze[:, None] + 0.7 * (1 - haze[:, None])
        images = torch.where((depths == 0)[:, None], sky[:, None, None].expand(count, 3, size, size), images)
        images = images + 0.02 * torch.randn(images.shape, generator=generator)
        return cls(images.float(), depths, min_depth=1e-3, max_depth=max_depth)
