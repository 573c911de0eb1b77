"""One batch's model call on a copy's thread: one call per kind of item in it (texts; tensors or
mappings of one shape and dtype); if a call fails, its items run alone, so an odd item fails only
its own request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from honed.models.handle import ModelHandle
from honed.tasks.base import as_tensor


def run_batch(handle: ModelHandle, items: list[Any]) -> list[torch.Tensor | Exception]:
    """Each item's output, or the exception its own call raised (a batch of one re-raises)."""
    outputs: list[Any] = [None] * len(items)
    for indices in _alike(items):
        found: Sequence[torch.Tensor | Exception]
        try:
            found = _run(handle, [items[i] for i in indices])
        except Exception:
            if len(indices) == 1:
                raise
            found = [_alone(handle, items[i]) for i in indices]  # which item failed it
        for index, output in zip(indices, found):
            outputs[index] = output
    return outputs


def _alone(handle: ModelHandle, item: Any) -> torch.Tensor | Exception:
    try:
        return _run(handle, [item])[0]
    except Exception as error:  # this item's own failure, answered to its sender only
        return error


def _run(handle: ModelHandle, items: list[Any]) -> list[torch.Tensor]:
    if isinstance(items[0], str):
        batch = handle.preprocess(items)
    elif isinstance(items[0], dict):
        batch = {name: torch.stack([item[name] for item in items]) for name in items[0]}
    else:
        batch = torch.stack(items)
    with handle.inference_context():
        return list(as_tensor(handle.run(batch)))  # on the host: waits for the device


def _alike(items: list[Any]) -> list[list[int]]:
    groups: dict[Any, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(_signature(item), []).append(index)
    return list(groups.values())


def _signature(item: Any) -> Any:
    if isinstance(item, str):
        return "text"
    if isinstance(item, dict):
        return tuple(sorted((name, tuple(t.shape), t.dtype) for name, t in item.items()))
    return (tuple(item.shape), item.dtype)
