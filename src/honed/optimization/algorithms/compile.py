"""Compilation: torch.compile with the inductor backend."""

from __future__ import annotations

from typing import Any, Literal, cast

import torch

from honed.models.handle import ModelHandle
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, register_algorithm


class CompileParams(Params):
    mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = "default"
    dynamic: bool | None = None


@register_algorithm(
    "torch-compile",
    "compile",
    "torch.compile (inductor); compiles on the first call",
    CompileParams,
    typical_min_cosine=0.999,
    export_note=(
        "compilation happens where the model runs: write the recipe without it and call torch.compile on the "
        "loaded model"
    ),
)
def torch_compile(handle: TorchBackedHandle, params: CompileParams, context: Context) -> ModelHandle:
    return handle.with_module(_compiled(handle.module, mode=params.mode, dynamic=params.dynamic))


@register_algorithm(
    "cuda-graphs",
    "compile",
    "torch.compile with CUDA graphs (mode reduce-overhead): one launch replays every kernel",
    targets=frozenset({"cuda"}),
    typical_min_cosine=0.999,
    export_note="CUDA graphs are captured where the model runs: write the recipe without it",
)
def cuda_graphs(handle: TorchBackedHandle, params: Params, context: Context) -> ModelHandle:
    return handle.with_module(_compiled(handle.module, mode="reduce-overhead"))


def _compiled(module: torch.nn.Module, **options: Any) -> torch.nn.Module:
    """torch.compile of a module is a module (an OptimizedModule), whatever its stubs say."""
    return cast(torch.nn.Module, torch.compile(module, **options))
