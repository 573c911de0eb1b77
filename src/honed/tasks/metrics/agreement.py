"""Agreement between an optimised model's outputs (predictions) and its base's (references),
usable on any task when labels are absent."""

from __future__ import annotations

import torch

from honed.tasks.metrics.registry import register_metric

_ROWS = 256  # rows of a distribution per block in logits_kl


@register_metric(
    "top1_agreement",
    "higher",
    "fraction",
    "share of items where both models pick the same top class",
    "argmax over the last dimension",
)
def top1_agreement(predictions: torch.Tensor, references: torch.Tensor) -> float:
    return (predictions.argmax(-1) == references.argmax(-1)).double().mean().item()


@register_metric(
    "logits_kl",
    "lower",
    "nats",
    "mean KL(base || optimised) of the softmax over the last dimension",
    "torch.nn.functional.kl_div; checked against scipy.stats.entropy",
)
def logits_kl(predictions: torch.Tensor, references: torch.Tensor) -> float:
    # In blocks of rows: a language model's positions x vocabulary in float64 would take GBs at once.
    rows_p = references.reshape(-1, references.shape[-1])
    rows_q = predictions.reshape(-1, predictions.shape[-1])
    total = 0.0
    for start in range(0, len(rows_p), _ROWS):
        log_p = torch.log_softmax(rows_p[start : start + _ROWS].double(), -1)
        log_q = torch.log_softmax(rows_q[start : start + _ROWS].double(), -1)
        total += torch.nn.functional.kl_div(log_q, log_p, log_target=True, reduction="sum").item()
    return total / max(len(rows_p), 1)


@register_metric(
    "output_cosine",
    "higher",
    "cosine",
    "mean cosine similarity of each item's flattened outputs",
    "torch.nn.functional.cosine_similarity",
)
def output_cosine(predictions: torch.Tensor, references: torch.Tensor) -> float:
    a = predictions.double().reshape(predictions.shape[0], -1)
    b = references.double().reshape(references.shape[0], -1)
    return torch.nn.functional.cosine_similarity(a, b, dim=1).mean().item()
