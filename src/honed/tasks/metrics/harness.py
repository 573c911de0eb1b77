"""lm-evaluation-harness's own aggregates for its multiple-choice tasks, as lm-eval computed them
(``tasks/lm_eval_task.py``): acc, and acc_norm (log-likelihood per byte of each choice)."""

from __future__ import annotations

from typing import Any

from honed.tasks.metrics.registry import register_metric

REFERENCE = "lm-evaluation-harness simple_evaluate (acc,none and acc_norm,none)"


@register_metric("acc", "higher", "fraction", "lm-eval's acc: the most likely choice is the gold one", REFERENCE)
def acc(predictions: Any, references: Any) -> float:
    return predictions.values["acc"]


@register_metric("acc_norm", "higher", "fraction", "lm-eval's acc_norm: likelihood per byte picks the gold", REFERENCE)
def acc_norm(predictions: Any, references: Any) -> float:
    return predictions.values["acc_norm"]
