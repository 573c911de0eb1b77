"""Agreement between an optimised model's outputs (predictions) and its base's (references),
usable on any task when labels are absent."""

from __future__ import annotations

import torch

from honed.tasks.metrics.registry import register_metric


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
    log_p = torch.log_softmax(references.double(), -1)
    log_q = torch.log_softmax(predictions.double(), -1)
    kl = torch.nn.functional.kl_div(log_q, log_p, log_target=True, reduction="none").sum(-1)
    return kl.mean().item()


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
