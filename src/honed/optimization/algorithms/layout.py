"""Memory layout for convolutional networks on CPU: each batch norm folded into the convolution
before it (one pass over the activations fewer, exact up to rounding), and weights and 4-D inputs
in channels-last (NHWC), the layout oneDNN's convolutions run fastest in."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from honed.core.errors import SpecError
from honed.models.handle import ModelHandle
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, register_algorithm


class ChannelsLastParams(Params):
    fold_batch_norm: bool = Field(
        default=True,
        description="fold eval-mode BatchNorm2d into the Conv2d that feeds "
        "it: through torch.fx where the model traces, else inside nn.Sequential blocks",
    )


def _fold_in_sequential(module: nn.Module) -> int:
    """Folds Conv2d -> BatchNorm2d pairs that follow each other in an nn.Sequential (there the
    convolution's output feeds only the batch norm); returns how many were folded."""
    folded = 0
    for block in module.modules():
        if not isinstance(block, nn.Sequential):
            continue
        for i in range(len(block) - 1):
            conv, norm = block[i], block[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats:
                block[i] = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, norm)
                block[i + 1] = nn.Identity()
                folded += 1
    return folded


def fold_batch_norm(module: nn.Module) -> nn.Module:
    from torch.fx.experimental.optimization import fuse

    module.eval()
    try:
        return fuse(module, inplace=True)  # every conv -> bn pair whose conv has no other user
    except Exception:  # noqa: BLE001  (not traceable: data-dependent Python, as most transformers models)
        _fold_in_sequential(module)
        return module


def _to_channels_last(_: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.dim() == 4:
            return value.contiguous(memory_format=torch.channels_last)
        return value

    return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}


@register_algorithm(
    "channels-last",
    "layout",
    "fold batch norm into convolutions and run in channels-last (NHWC)",
    ChannelsLastParams,
    typical_min_cosine=0.9999,
    export_note=(
        "a memory layout (with batch norm folded by torch.fx) applied where the model runs: write the recipe "
        "without it and convert the loaded model"
    ),
)
def channels_last(handle: TorchBackedHandle, params: ChannelsLastParams, context: Context) -> ModelHandle:
    if not any(isinstance(m, nn.Conv2d) for m in handle.module.modules()):
        raise SpecError(
            "algorithm channels-last", handle.name, "a model with 2-D convolutions (it changes their layout)"
        )
    module = fold_batch_norm(handle.module) if params.fold_batch_norm else handle.module
    module = module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit it
    module.register_forward_pre_hook(_to_channels_last, with_kwargs=True)
    return handle.with_module(module)
