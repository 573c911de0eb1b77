"""Pairings of algorithm and model that measurement found to backfire, checked before any work.

Each entry: the algorithm and parameters, the kind of model (by where its parameters live),
and what was measured. The model's structure is read on the meta device (nothing allocated)
where its adapter can build it that way (factories, transformers directories); other kinds
(ONNX, OpenVINO, saved honed directories, hub ids) are not judged.
"""

from __future__ import annotations

from typing import Any

from honed.core.protocol import ModelRef, Step

# (algorithm, params that must match, layer kind holding most parameters, what was measured)
KNOWN_BAD: tuple[tuple[str, dict[str, Any], str, str], ...] = (
    (
        "onnxruntime",
        {"quantization": "dynamic-int8"},
        "convolution",
        "onnxruntime dynamic int8 on a convolution network ran 3-4x slower than fp32 here (its ConvInteger kernels)",
    ),
    (
        "dynamic-int8",
        {},
        "convolution",
        "dynamic int8 quantizes Linear layers only: on a convolution network it touches the classifier and little else",
    ),
    (
        "torchao-int8-dynamic",
        {},
        "convolution",
        "torchao int8 dynamic quantizes Linear layers only: on a convolution network it touches the classifier and "
        "little else",
    ),
)


def dominant_layers(ref: ModelRef) -> str | None:
    """'convolution' or 'linear': the layer kind holding most of the model's parameters, read from
    its architecture on the meta device where its adapter can build it so (factories, torch
    weights with a factory, local transformers directories); None where it cannot."""
    import torch

    from honed.models.registry import adapter

    module = adapter(ref.kind).meta_module(ref)
    if module is None:
        return None
    counts = {"convolution": 0, "linear": 0}
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.conv._ConvNd):
            counts["convolution"] += sum(p.numel() for p in layer.parameters(recurse=False))
        elif isinstance(layer, torch.nn.Linear):
            counts["linear"] += sum(p.numel() for p in layer.parameters(recurse=False))
    return max(counts, key=lambda kind: counts[kind]) if any(counts.values()) else None


def pairing_warnings(name: str, layers: str | None, steps: list[Step]) -> list[str]:
    """What measurement found for each step on a model whose parameters live mostly in ``layers``."""
    return [
        f"{step.algorithm} on {name}: {measured}"
        for step in steps
        for algorithm, params, kind, measured in KNOWN_BAD
        if step.algorithm == algorithm and kind == layers and all(step.params.get(k) == v for k, v in params.items())
    ]
