"""Multiple choice by log-likelihood, the protocol of lm-evaluation-harness (Hellaswag):
acc picks the choice with the highest summed log-likelihood of its continuation; acc_norm
divides that by the continuation's length in bytes (UTF-8) before picking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from honed.tasks.metrics.registry import register_metric

REFERENCE = "lm-evaluation-harness multiple_choice: acc and acc_norm"


@register_metric(
    "mc_accuracy", "higher", "fraction", "argmax of continuation log-likelihood equals the gold choice", REFERENCE
)
def multiple_choice_accuracy(predictions: Sequence[Sequence[float]], references: Sequence[int]) -> float:
    return float(np.mean([int(np.argmax(ll)) == gold for ll, gold in zip(predictions, references, strict=True)]))


@register_metric(
    "mc_accuracy_norm",
    "higher",
    "fraction",
    "argmax of log-likelihood / continuation bytes equals the gold choice",
    REFERENCE,
)
def multiple_choice_accuracy_norm(
    predictions: Sequence[Sequence[float]], references: Sequence[int], choices: Sequence[Sequence[str]]
) -> float:
    correct = []
    for ll, gold, texts in zip(predictions, references, choices, strict=True):
        lengths = np.array([len(t.encode("utf-8")) for t in texts], dtype=np.float64)
        correct.append(int(np.argmax(np.asarray(ll) / lengths)) == gold)
    return float(np.mean(correct))
