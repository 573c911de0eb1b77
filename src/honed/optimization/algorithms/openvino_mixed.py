"""Mixed precision by sensitivity: NNCF int8 everywhere except the spans of the graph whose
quantization moves the outputs most, left in float until the model agrees with its float self.

NNCF's own accuracy-control loop was tried first and dropped: on MiniLM each layer it reverted
made the output cosine worse. This search is coarser and predictable: the quantizable operations
(MatMul, Convolution, fused attention) in graph order are cut into ``groups`` contiguous spans (a transformer's
blocks, a CNN's stages, roughly); each span's sensitivity is the cosine gained by leaving it
alone; then the fewest most-sensitive spans that bring the mean output cosine to ``min_cosine``
are found by bisection. Cosines are measured item by item on items held out from calibration
(the task's odd items when calibrating on its even ones), so int8 cannot look good on the very
items it was calibrated on. Every answer it returns was measured, never assumed; where no span can be
int8 within the bound it fails (a "mixed" model with no int8 in it is the float model).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from honed.core.errors import RecipeError
from honed.models.openvino_model import Precision, compile_cpu

log = logging.getLogger(__name__)
QUANTIZABLE = ("MatMul", "Convolution", "ScaledDotProductAttention")  # what NNCF puts int8 inputs on


@dataclass
class MixedResult:
    model: Any
    cosine: float
    float_spans: list[int] = field(default_factory=list)  # indices into the spans, most sensitive first
    spans: int = 0
    operations_in_float: int = 0
    operations: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "int8_mixed_cosine": round(self.cosine, 5),
            "int8_mixed_float_spans": self.float_spans,
            "int8_mixed_spans": self.spans,
            "int8_mixed_float_operations": f"{self.operations_in_float} of {self.operations}",
        }


def spans_of(model: Any, groups: int) -> list[list[str]]:
    """The quantizable operations' names in graph order, cut into at most ``groups`` spans."""
    names = [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() in QUANTIZABLE]
    if not names:  # array_split refuses 0 sections; no quantizable operation is no span
        return []
    return [[names[i] for i in span] for span in np.array_split(np.arange(len(names)), min(groups, len(names)))]


def item_outputs(compiled: Any, feeds: list[dict[str, np.ndarray]]) -> list[torch.Tensor]:
    """The main output of every item of ``feeds``, one flat vector each: batches of texts may
    differ in length, so items are compared one by one; a token output's padding is zeroed
    (what it holds is no part of the answer)."""
    items: list[torch.Tensor] = []
    for feed in feeds:
        output = torch.from_numpy(np.asarray(compiled(feed)[compiled.output(0)])).double()
        mask = feed.get("attention_mask")
        if mask is not None and output.dim() == 3 and tuple(output.shape[:2]) == mask.shape:
            output = output * torch.from_numpy(np.asarray(mask)).unsqueeze(-1).double()
        items.extend(output.reshape(len(output), -1))
    return items


def mean_cosine(candidate: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    cosines = [torch.nn.functional.cosine_similarity(a, b, dim=0).item() for a, b in zip(candidate, reference)]
    return float(np.mean(cosines))


def quantize_by_sensitivity(
    model: Any,
    feeds: list[dict[str, np.ndarray]],
    judged: list[dict[str, np.ndarray]],
    levers: dict[str, Any],
    min_cosine: float,
    groups: int,
    precision: Precision,
) -> MixedResult:
    """Calibrated on ``feeds`` with ``nncf.quantize``'s ``levers`` (model type, preset, SmoothQuant);
    candidates judged on ``judged`` (items held out from calibration) at ``precision`` (what the
    float spans will run at), against the f32 model."""
    import nncf

    def outputs(candidate: Any, precision: Precision = precision) -> list[torch.Tensor]:
        return item_outputs(compile_cpu(candidate, precision, None), judged)

    reference = outputs(model, "f32")
    spans = spans_of(model, groups)
    measured: dict[tuple[int, ...], tuple[Any, float]] = {}

    def quantized(left_out: tuple[int, ...]) -> tuple[Any, float]:
        """The model with the spans ``left_out`` in float, and its mean output cosine."""
        if left_out not in measured:
            ignored = [name for index in left_out for name in spans[index]]
            candidate = nncf.quantize(
                model,
                nncf.Dataset(feeds),
                subset_size=len(feeds),
                **levers,
                ignored_scope=nncf.IgnoredScope(names=ignored, validate=False),
            )
            measured[left_out] = candidate, mean_cosine(outputs(candidate), reference)
            log.info("int8-mixed: spans %s in float -> cosine %.5f", list(left_out), measured[left_out][1])
        return measured[left_out]

    def result(left_out: tuple[int, ...], candidate: Any, cosine: float) -> MixedResult:
        return MixedResult(
            candidate, cosine, list(left_out), len(spans), sum(len(spans[i]) for i in left_out), sum(map(len, spans))
        )

    candidate, cosine = quantized(())
    if cosine >= min_cosine or not spans:
        return result((), candidate, cosine)
    gain = {index: quantized((index,))[1] for index in range(len(spans))}
    order = tuple(sorted(gain, key=lambda index: gain[index], reverse=True))  # most sensitive first
    # Bisect on how many of the most sensitive spans stay float; all of them is the float model.
    low, high = 0, len(order)  # low fails (measured); high is the float model
    while high - low > 1:
        middle = (low + high) // 2
        if quantized(order[:middle])[1] >= min_cosine:
            high = middle
        else:
            low = middle
    if high == len(order):  # a "mixed" model with no int8 in it would be the float model under another name
        raise RecipeError(
            f"openvino int8-mixed: no span of the graph can be int8 with the outputs at cosine >= "
            f"{min_cosine:g} (int8 everywhere: {measured[()][1]:.4f}; all {len(order) - 1} most sensitive "
            f"of {len(order)} spans left float: {quantized(order[:low])[1]:.4f}); run without quantization"
        )
    return result(order[:high], *quantized(order[:high]))
