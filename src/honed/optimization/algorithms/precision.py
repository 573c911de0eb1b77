"""Precision: cast weights and compute to a lower floating precision."""

from __future__ import annotations

import torch

from honed.models.handle import ModelHandle
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, register_algorithm


def _cast(handle: TorchBackedHandle, dtype: torch.dtype) -> ModelHandle:
    return handle.with_module(handle.module.to(dtype))


@register_algorithm(
    "bf16", "precision", "cast weights and compute to bfloat16", typical_min_cosine=0.99, export="weights"
)
def cast_bf16(handle: TorchBackedHandle, params: Params, context: Context) -> ModelHandle:
    return _cast(handle, torch.bfloat16)


@register_algorithm(
    "fp16", "precision", "cast weights and compute to float16", typical_min_cosine=0.99, export="weights"
)
def cast_fp16(handle: TorchBackedHandle, params: Params, context: Context) -> ModelHandle:
    return _cast(handle, torch.float16)
