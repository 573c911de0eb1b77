"""Quantization: torchao configs applied with quantize_, and torch.ao dynamic int8."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from honed.models.handle import ModelHandle
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, register_algorithm
from honed.optimization.space import choice


def _torchao(handle: TorchBackedHandle, config: Any) -> ModelHandle:
    from torchao.quantization import quantize_

    quantize_(handle.module, config)  # mutates: applied to optimize()'s private copy only
    return handle


@register_algorithm(
    "torchao-int8-weight-only",
    "quantize",
    "int8 weights, float activations (torchao)",
    requires=("torchao",),
    typical_min_cosine=0.99,
    export_note=(
        "torchao's quantized tensors are not written in a format that loads without torchao yet; "
        "openvino:quantization=int8-weights is the exportable int8"
    ),
)
def torchao_int8_weight_only(handle: TorchBackedHandle, params: Params, context: Context) -> ModelHandle:
    from torchao.quantization import Int8WeightOnlyConfig

    return _torchao(handle, Int8WeightOnlyConfig())


@register_algorithm(
    "torchao-int8-dynamic",
    "quantize",
    "int8 weights and dynamically quantized int8 activations (torchao)",
    requires=("torchao",),
    typical_min_cosine=0.98,
    export_note=(
        "torchao's quantized tensors are not written in a format that loads without torchao yet; "
        "onnxruntime:quantization=dynamic-int8 is the exportable int8"
    ),
)
def torchao_int8_dynamic(handle: TorchBackedHandle, params: Params, context: Context) -> ModelHandle:
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig

    return _torchao(handle, Int8DynamicActivationInt8WeightConfig())


class Int4Params(Params):
    group_size: int = Field(default=128, description="weights per scale; 32, 64, 128 or 256")


@register_algorithm(
    "torchao-int4-weight-only",
    "quantize",
    "int4 weights in groups (torchao GPU kernels)",
    Int4Params,
    targets=frozenset({"cuda"}),
    requires=("torchao",),
    typical_min_cosine=0.95,
    export_note="torchao's quantized tensors are not written in a format that loads without torchao yet",
    space=(
        choice(
            "group_size",
            32,
            64,
            128,
            256,
            why="smaller groups are closer to float, larger ones faster",
            ladder=(256, 128, 64, 32),
        ),
    ),
)
def torchao_int4_weight_only(handle: TorchBackedHandle, params: Int4Params, context: Context) -> ModelHandle:
    from torchao.quantization import Int4WeightOnlyConfig

    return _torchao(handle, Int4WeightOnlyConfig(group_size=params.group_size))


@register_algorithm(
    "fp8-dynamic",
    "quantize",
    "float8 weights and dynamic float8 activations (torchao; Hopper GPUs)",
    targets=frozenset({"cuda"}),
    requires=("torchao",),
    typical_min_cosine=0.98,
    export_note="torchao's float8 tensors are not written in a format that loads without torchao yet",
)
def fp8_dynamic(handle: TorchBackedHandle, params: Params, context: Context) -> ModelHandle:
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig

    return _torchao(handle, Float8DynamicActivationFloat8WeightConfig())


@register_algorithm(
    "dynamic-int8",
    "quantize",
    "torch.ao dynamic quantization of Linear layers, per-channel int8 weights (CPU)",
    targets=frozenset({"cpu"}),
    conflicts=frozenset({"bf16", "fp16", "torch-compile"}),
    typical_min_cosine=0.95,
    export_note=(
        "torch's dynamic int8 modules have no format another program loads; onnxruntime:quantization=dynamic-"
        "int8 is the exportable int8"
    ),
)  # MiniLM: 0.968
def torch_ao_dynamic_int8(handle: TorchBackedHandle, params: Params, context: Context) -> ModelHandle:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    module = quantize_dynamic(handle.module, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    return handle.with_module(module)


class QuantoParams(Params):
    weights: Literal["int8", "int4"] = "int8"


@register_algorithm(
    "quanto-weights",
    "quantize",
    "int8 or int4 weights, float activations (optimum-quanto)",
    QuantoParams,
    requires=("optimum.quanto",),
    typical_min_cosine=0.99,
    export_note="quanto's weights load only through optimum-quanto's requantize; not written yet",
    space=(
        choice(
            "weights",
            "int8",
            "int4",
            why="int4 packs two weights a byte, farther from float: MiniLM's pooled cosine 0.958, int8's 0.9997",
            ladder=("int4", "int8"),
        ),
    ),
)
def quanto_weights(handle: TorchBackedHandle, params: QuantoParams, context: Context) -> ModelHandle:
    from optimum.quanto import freeze, qint4, qint8, quantize

    quantize(handle.module, weights={"int8": qint8, "int4": qint4}[params.weights])
    freeze(handle.module)  # replace float weights by their quantized form
    handle.grad_mode = "no_grad"  # quanto's packed int4 tensors fail under inference_mode
    return handle
