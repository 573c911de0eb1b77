"""What a recipe step actually changed: which layers, and their share of the model's parameters
and FLOPs. A step that changes (almost) nothing, such as dynamic int8 on a convolution network
where only the final Linear layer is quantized, says so instead of passing as an optimisation."""

from __future__ import annotations

from typing import Any

import torch

from honed.models.torch_common import TorchBackedHandle
from honed.records.record import StepCoverage

ALMOST_NOTHING = 0.05  # below this share of FLOPs (parameters when FLOPs are unknown) a step is flagged

LayerState = tuple[str, tuple[tuple[str, str, str, int, int], ...]]


def snapshot(module: torch.nn.Module) -> dict[str, LayerState]:
    """Each module that holds parameters directly: its type, and each parameter's dtype, tensor
    class, size and count of zeros (pruning zeroes weights without changing anything else)."""
    layers = {}
    for name, layer in module.named_modules():
        params = tuple(
            (p_name, str(p.dtype), type(p.data).__name__, p.numel(), _zeros(p))
            for p_name, p in layer.named_parameters(recurse=False)
        )
        if params:
            layers[name] = (type(layer).__name__, params)
    return layers


def _zeros(tensor: torch.Tensor) -> int:
    try:
        return int((tensor.detach() == 0).sum())
    except Exception:  # a quantized tensor subclass may not compare; it changed anyway
        return -1


def layer_flops(handle: TorchBackedHandle, batch: Any) -> dict[str, int]:
    """FLOPs of one call per module name (torch's FlopCounterMode), for weighting what changed."""
    from torch.utils.flop_counter import FlopCounterMode

    root = type(handle.module).__name__
    try:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            handle.run(batch)
    except Exception:  # an op FlopCounterMode cannot trace: parameters alone weigh the change
        return {}
    return {
        key[len(root) + 1 :]: sum(counts.values())
        for key, counts in counter.get_flop_counts().items()
        if key.startswith(root + ".")
    }


def step_coverage(
    algorithm: str, family: str, before: dict[str, LayerState], after: Any, flops: dict[str, int]
) -> StepCoverage:
    total_params = sum(n for _, params in before.values() for *_, n, _ in params) or 1
    module = getattr(after, "module", None)
    if family in ("runtime", "compile") or not isinstance(module, torch.nn.Module):
        what = "compiled" if family == "compile" else f"moved to {after.ref.kind}"
        return StepCoverage(
            algorithm=algorithm,
            layers_changed=len(before),
            layers_total=len(before),
            parameter_share=1.0,
            flop_share=1.0 if flops else None,
            what=what,
        )
    now = snapshot(module)
    changed = [name for name, state in before.items() if now.get(name) != state]
    params = sum(n for name in changed for *_, n, _ in before[name][1])
    total_flops = sum(flops.get(name, 0) for name in before)
    flop_share = sum(flops.get(name, 0) for name in changed) / total_flops if total_flops else None
    share = flop_share if flop_share is not None else params / total_params
    coverage = StepCoverage(
        algorithm=algorithm,
        layers_changed=len(changed),
        layers_total=len(before),
        parameter_share=params / total_params,
        flop_share=flop_share,
        what=family,
    )
    if share < ALMOST_NOTHING:
        kinds = sorted({before[name][0] for name in changed}) or ["no layer"]
        basis = "FLOPs" if flop_share is not None else "parameters"
        return coverage.model_copy(
            update={
                "warning": (
                    f"{algorithm} changed {len(changed)} of {len(before)} layers ({', '.join(kinds)}): "
                    f"{share:.1%} of the model's {basis}; it does almost nothing to this model"
                )
            }
        )
    return coverage
