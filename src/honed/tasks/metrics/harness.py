"""lm-evaluation-harness's own aggregates, as lm-eval computed them (``tasks/lm_eval_task.py``):
acc and acc_norm (log-likelihood per byte of each choice) of multiple-choice tasks, the three
perplexities of its rolling log-likelihood tasks (wikitext) and exact_match of generation tasks."""

from __future__ import annotations

from typing import Any, Literal

from honed.tasks.metrics.registry import register_metric

REFERENCE = "lm-evaluation-harness simple_evaluate (the task's 'metric,filter' results)"

_HARNESS: list[tuple[str, Literal["higher", "lower"], str, str]] = [
    ("acc", "higher", "fraction", "lm-eval's acc: the most likely choice is the gold one"),
    ("acc_norm", "higher", "fraction", "lm-eval's acc_norm: likelihood per byte picks the gold"),
    ("word_perplexity", "lower", "perplexity", "lm-eval's word perplexity: exp(-log-likelihood per word)"),
    ("byte_perplexity", "lower", "perplexity", "lm-eval's byte perplexity: exp(-log-likelihood per UTF-8 byte)"),
    ("bits_per_byte", "lower", "bits", "lm-eval's bits per byte: -log2-likelihood per UTF-8 byte"),
    ("exact_match", "higher", "fraction", "lm-eval's exact_match: the generated answer equals the gold one"),
]


def _reported(name: str) -> Any:
    def read(predictions: Any, references: Any) -> float:
        return predictions.values[name]

    return read


for _name, _better, _unit, _summary in _HARNESS:
    register_metric(_name, _better, _unit, _summary, REFERENCE)(_reported(_name))
