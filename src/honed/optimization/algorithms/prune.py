"""Pruning: unstructured magnitude pruning (torch.nn.utils.prune) and structured pruning that
really removes neurons and channels (torch-pruning)."""

from __future__ import annotations

import re
from typing import Literal

import torch
from pydantic import Field

from honed.models.handle import ModelHandle
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, register_algorithm
from honed.optimization.space import float_range


class MagnitudeParams(Params):
    amount: float = Field(default=0.2, gt=0, lt=1, description="fraction of Linear and convolution weights set to zero")
    scope: Literal["global", "layer"] = "global"


@register_algorithm(
    "magnitude-prune",
    "prune",
    "zero the smallest Linear/conv weights (unstructured; smaller when compressed, not faster when dense)",
    MagnitudeParams,
    typical_min_cosine=0.95,
    export="weights",
)  # MiniLM: 0.974 at 20 %
def magnitude_prune(handle: TorchBackedHandle, params: MagnitudeParams, context: Context) -> ModelHandle:
    from torch.nn.utils import prune

    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    layers = [(m, "weight") for m in handle.module.modules() if isinstance(m, kinds)]
    if not layers:
        from honed.core.errors import SpecError

        raise SpecError("recipe.magnitude-prune", handle.name, "a model with Linear or convolution layers")
    if params.scope == "global":
        prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=params.amount)
    else:
        for module, name in layers:
            prune.l1_unstructured(module, name, amount=params.amount)
    for module, name in layers:
        prune.remove(module, name)  # bake the mask into the weight: no hooks left behind
    return handle


class StructuredParams(Params):
    ratio: float = Field(default=0.1, gt=0, lt=1, description="fraction of prunable neurons/channels removed")
    round_to: int | None = Field(default=8, ge=1, description="keep widths a multiple of this (kernel-friendly)")


# Layers whose output width is a prunable FFN width in transformer blocks (the FFN expansion):
# BERT, Llama/Mistral, OPT/BART/Marian (fc1), DistilBERT, GPT-2, T5 (wi; wi_0/wi_1 when gated).
_FFN_EXPANSION = re.compile(
    r"(intermediate\.dense|mlp\.(gate_proj|up_proj|fc1|c_fc)|ffn\.lin1|fc1|DenseReluDense\.wi(_[01])?)$"
)


@register_algorithm(
    "structured-prune",
    "prune",
    "remove the lowest-magnitude FFN neurons (transformers) or hidden channels (other nets); tensors shrink",
    StructuredParams,
    requires=("torch_pruning",),
    typical_min_cosine=0.85,
    space=(
        float_range(
            "ratio",
            0.05,
            0.4,
            grid=(0.05, 0.1, 0.2),
            log=True,
            why="narrower FFNs are faster in proportion, but MiniLM without fine-tuning kept only cosine 0.873 at "
            "10 %: a small ratio is the one a guardrail can pass",
        ),
    ),
    export_note=(
        "torch-pruning narrows layers beyond what the model's config describes, so the model's class cannot "
        "load the weights; export with onnxruntime or openvino after it"
    ),
)  # MiniLM: 0.873 at 10 %, no fine-tuning
def structured_prune(handle: TorchBackedHandle, params: StructuredParams, context: Context) -> ModelHandle:
    import torch_pruning as tp

    module = handle.module
    roots = [(name, m) for name, m in module.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    ffn = [m for name, m in roots if _FFN_EXPANSION.search(name)]
    # Transformers: only FFN widths (attention heads and the residual width stay); other nets:
    # every layer but the last, whose outputs are the model's outputs.
    keep = set(ffn) if ffn else {m for _, m in roots[:-1]}
    ignored = [m for _, m in roots if m not in keep]
    example = handle.example_inputs(2, context.inputs, seed=0)
    pruner = tp.pruner.MagnitudePruner(
        module,
        example_inputs=example,
        importance=tp.importance.MagnitudeImportance(p=1),
        pruning_ratio=params.ratio,
        ignored_layers=ignored,
        round_to=params.round_to,
        forward_fn=lambda model, inputs: handle.run(inputs).main,
    )
    pruner.step()
    return handle
