"""Monocular depth estimation: Eigen et al. errors over valid pixels, depth capped.

``DepthEstimationTask.scenes()`` generates road-like scenes with exact depth: a ground plane
seen by a pinhole camera (depth = focal x camera height / rows below the horizon), boxes
standing on it, and sky with no depth (invalid, so masked out). Far things are hazier, the
cue a model can learn; so a model can be trained and judged with no download. ``data`` reads a
user's images and depth maps (honed.tasks.media_files; each model reads the images as
honed.tasks.images says).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task, aligned_batches
from honed.tasks.images import ImageItems, Reading, check_aligned, generated_side, resized_targets
from honed.tasks.kitti import check_crop, crop_mask, split_pairs
from honed.tasks.media_files import paired_files, read_image


@TASKS.register("depth-estimation")
class DepthEstimationTask(ImageItems, Task):
    name = "depth-estimation"
    metrics = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "delta2", "delta3")
    primary = "abs_rel"
    item_fields = ("images", "depths")

    def __init__(
        self, images: torch.Tensor | list[Any], depths: torch.Tensor, min_depth: float = 1e-3, max_depth: float = 80.0
    ):
        check_aligned(images, depths, "depths")
        self.images, self.depths, self.min_depth, self.max_depth = images, depths, min_depth, max_depth
        self.crop: str | None = None  # kitti.CROPS: the part of each map scored
        self.median_scaling = False  # for models that predict depth up to a scale

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
        count, height, width = self.depths[:limit].shape
        options = {"min_depth": self.min_depth, "max_depth": self.max_depth, "median_scaling": self.median_scaling}
        return {name: {**options, "mask": crop_mask(self.crop, count, height, width)} for name in self.metrics}

    @classmethod
    def default(
        cls,
        count: int = 64,
        size: int | list[int] | None = None,
        seed: int = 0,
        data: str | None = None,
        depth_scale: float = 256.0,
        max_depth: float = 80.0,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        split_file: str | None = None,
        depth_data: str | None = None,
        crop: str | None = None,
        median_scaling: bool = False,
    ) -> DepthEstimationTask:
        """Generated 3x32x32 scenes (ground, boxes, sky) with exact depth in metres, capped at 20;
        or ``data``: DIR/images/<name>.png with DIR/depths/<name>.png (16-bit, metres x
        ``depth_scale``, 256 as KITTI stores it) or <name>.npy (float metres); 0 is no depth.
        Depths are scored at ``size`` or the first map's size, up to ``max_depth`` metres.
        KITTI's Eigen split as the papers score it (kitti.py): ``split_file`` lists the frames
        (images under ``data``, ground truth under ``depth_data``), ``crop`` "garg" or "eigen",
        ``median_scaling`` for a model that predicts relative depth."""
        if data is None:
            return cls.scenes(count, generated_side(size), seed)
        reading = Reading.checked(size, mean, std)
        if split_file is not None:
            pairs = split_pairs(split_file, data, depth_data)
        else:
            pairs = paired_files(data, "depths", "16-bit PNG of metres x depth_scale, or .npy float metres; 0 = none")
        metres = [_metres(depth, depth_scale) for _, depth in pairs]
        depths = resized_targets(metres, reading.size, 1.0, torch.float32)
        task = cls([read_image(image) for image, _ in pairs], depths, min_depth=1e-3, max_depth=max_depth)
        task.reading, task.crop, task.median_scaling = reading, check_crop(crop), median_scaling
        return task

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


def _metres(path: Any, depth_scale: float) -> np.ndarray:
    """A depth map in metres: a .npy array as it is (never unpickled), an image divided by ``depth_scale``."""
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float32)
    return np.asarray(read_image(path, mode=None), dtype=np.float32) / depth_scale
