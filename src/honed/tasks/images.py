"""Image items a user gave (PIL images), as each model reads them: through the model's own image
processor where it has one (a transformers vision model, or a runtime export of one: the size and
normalisation it was trained with); otherwise resized to ``size`` or the run's input shape and
scaled to [0, 1], then normalised with ``mean`` and ``std`` where given. Shipped and generated
data are tensors already and pass through unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec
from honed.models.handle import ModelHandle


def check_size(size: int | list[int] | None) -> tuple[int, int] | None:
    """``size`` as (height, width): one number for a square, or [height, width]."""
    if size is None:
        return None
    pair = [size, size] if isinstance(size, int) else list(size)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair):
        raise SpecError("task.options.size", size, "a positive integer or [height, width]")
    return pair[0], pair[1]


def check_aligned(images: torch.Tensor | list[Any], targets: torch.Tensor, what: str) -> None:
    """One per-pixel target per image, of the images' size where they are one tensor."""
    sizes_differ = isinstance(images, torch.Tensor) and images.shape[-2:] != targets.shape[-2:]
    if len(images) != targets.shape[0] or sizes_differ:
        raise ValueError(f"{len(images)} images and {what} {tuple(targets.shape)} do not match")


def generated_side(size: int | list[int] | None, default: int = 32) -> int:
    """The side of a task's generated square images: ``size`` once checked, a square [side, side] too."""
    pair = check_size(size) or (default, default)
    if pair[0] != pair[1]:
        raise SpecError("task.options.size", size, "one side: generated images are square ([height, width] reads data)")
    return pair[0]


@dataclass(frozen=True)
class Reading:
    """What the user said about reading their images (task options ``size``, ``mean``, ``std``);
    anything said overrides the model's own image processor."""

    size: tuple[int, int] | None = None
    mean: list[float] | None = None
    std: list[float] | None = None

    @classmethod
    def checked(cls, size: int | list[int] | None, mean: list[float] | None, std: list[float] | None) -> Reading:
        if (mean is None) != (std is None):
            raise SpecError("task.options.mean", mean, "mean and std given together (one number per channel each)")
        if mean is not None and std is not None and (len(std) != len(mean) or any(s <= 0 for s in std)):
            raise SpecError("task.options.std", std, f"{len(mean)} positive numbers, one per channel of mean")
        return cls(check_size(size), mean, std)

    @property
    def said(self) -> bool:
        return self.size is not None or self.mean is not None


class ImageItems:
    """Mixed into an image task: ``images`` may be a tensor batch or a list of PIL images."""

    reading = Reading()
    shape: tuple[int, ...] | None = None  # the run's input shape (channels, height, width), bound in the worker

    def bind(self, inputs: InputSpec) -> None:
        self.shape = inputs.shape

    def pixels(self, handle: ModelHandle, raw: Any) -> Any:
        if not isinstance(raw, list):
            return raw
        if not self.reading.said:  # the model's own processor, if any
            try:
                return handle.preprocess(raw)
            except SpecError:
                pass
        return handle.prepare(self.as_tensor(raw))

    def as_tensor(self, images: list[Any]) -> torch.Tensor:
        from PIL import Image

        channels = self.shape[0] if self.shape and len(self.shape) == 3 else 3
        reading = self.reading
        height, width = reading.size or (self.shape[-2:] if self.shape else (images[0].height, images[0].width))
        mode = "L" if channels == 1 else "RGB"
        arrays = [
            np.asarray(image.convert(mode).resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
            for image in images
        ]
        batch = torch.from_numpy(np.stack(arrays)) / 255.0
        batch = batch[:, None] if mode == "L" else batch.permute(0, 3, 1, 2)
        if reading.mean is not None:
            batch = (batch - torch.tensor(reading.mean)[:, None, None]) / torch.tensor(reading.std)[:, None, None]
        return batch.contiguous()

    def model_inputs(self, handle: ModelHandle, raw: Any) -> Any:
        return self.pixels(handle, raw) if isinstance(raw, list) else super().model_inputs(handle, raw)  # type: ignore[misc]

    def predict(self, handle: ModelHandle, inputs: Any) -> torch.Tensor:
        return super().predict(handle, self.pixels(handle, inputs))  # type: ignore[misc]


def resized_targets(targets: list[Any], size: tuple[int, int] | None, scale: float, dtype: torch.dtype) -> torch.Tensor:
    """Masks or depth maps (PIL images, or float arrays from .npy) as one tensor at ``size`` or the
    first one's size, divided by ``scale``: nearest-neighbour, so a class number or a depth is never
    blended with its neighbour's."""
    from PIL import Image

    planes = [Image.fromarray(np.asarray(t, dtype=np.float32)) if isinstance(t, np.ndarray) else t for t in targets]
    planes = [plane.convert("I") if plane.mode.startswith("I;16") else plane for plane in planes]
    height, width = size or (planes[0].height, planes[0].width)
    arrays = [np.asarray(plane.resize((width, height), Image.Resampling.NEAREST), dtype=np.float64) for plane in planes]
    return (torch.from_numpy(np.stack(arrays)) / scale).to(dtype)
