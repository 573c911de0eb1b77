"""KITTI's Eigen split as the depth papers evaluate it (monodepth2, BTS): the images and annotated
depth maps a split file lists, the Garg or Eigen crop, depth capped at 80 m, and median scaling for
models that predict relative depth.

A split file lists one frame per line as BTS's ``eigen_test_files_with_gt.txt`` does: the image's
path under ``data``, its ground truth's path under ``depth_data`` (16-bit PNG, metres x 256; the
word None where the frame has none: it is skipped, as the papers skip it) and the focal length.
"""

from __future__ import annotations

from pathlib import Path

import torch

from honed.core.errors import SpecError
from honed.tasks.media_files import MAX_ITEMS

# (top, bottom, left, right) as fractions of the ground truth's height and width.
CROPS = {
    "garg": (0.40810811, 0.99189189, 0.03594771, 0.96405229),  # Garg et al. 2016, monodepth2's eval
    "eigen": (0.3324324, 0.91351351, 0.0359477, 0.96405229),  # Eigen et al. 2014, BTS's eval
}
SPLIT_LINE = "'<image path> <depth path or None> <focal>' (BTS's eigen_test_files_with_gt.txt)"


def split_pairs(split_file: str, data: str, depth_data: str | None) -> list[tuple[Path, Path]]:
    """(image, ground truth) of every frame the split file lists with a ground truth, in its order."""
    listing, images, depths = Path(split_file), Path(data), Path(depth_data or data)
    if not listing.is_file():
        raise SpecError("task.options.split_file", split_file, f"an existing split file of {SPLIT_LINE} lines")
    pairs = []
    for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise SpecError(f"task.options.split_file (line {number})", line, SPLIT_LINE)
        if fields[1] == "None":
            continue
        pair = images / fields[0], depths / fields[1]
        for path, field in zip(pair, ("data", "depth_data")):
            if not path.is_file():
                raise SpecError(
                    f"task.options.{field} (line {number} of {listing.name})", str(path), "an existing file"
                )
        pairs.append(pair)
        if len(pairs) > MAX_ITEMS:
            raise SpecError("task.options.split_file", split_file, f"at most {MAX_ITEMS} frames with ground truth")
    if not pairs:
        raise SpecError("task.options.split_file", split_file, "at least one frame with a ground truth")
    return pairs


def check_crop(crop: str | None) -> str | None:
    if crop is not None and crop not in CROPS:
        raise SpecError("task.options.crop", crop, " or ".join(repr(c) for c in CROPS) + ", or none")
    return crop


def crop_mask(crop: str | None, count: int, height: int, width: int) -> torch.Tensor | None:
    """The pixels a crop scores, for ``count`` maps of ``height`` x ``width`` (None: all)."""
    crop = check_crop(crop)
    if crop is None:
        return None
    top, bottom, left, right = CROPS[crop]
    mask = torch.zeros(count, height, width, dtype=torch.bool)
    mask[:, int(top * height) : int(bottom * height), int(left * width) : int(right * width)] = True
    return mask
