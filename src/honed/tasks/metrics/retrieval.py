"""Retrieval with paired data: query i's relevant document is document i."""

from __future__ import annotations

import torch

from honed.tasks.metrics.registry import register_metric


@register_metric(
    "recall_at_k",
    "higher",
    "fraction",
    "share of queries whose paired document is among the k most cosine-similar documents",
    "torchmetrics RetrievalRecall(top_k=k)",
)
def recall_at_k(predictions: torch.Tensor, references: torch.Tensor, k: int = 5) -> float:
    from torchmetrics.retrieval import RetrievalRecall

    queries = torch.nn.functional.normalize(predictions.double(), dim=-1)
    documents = torch.nn.functional.normalize(references.double(), dim=-1)
    scores = queries @ documents.T
    n_queries, n_documents = scores.shape
    relevant = torch.eye(n_queries, n_documents, dtype=torch.bool)
    indexes = torch.arange(n_queries)[:, None].expand(n_queries, n_documents)
    return RetrievalRecall(top_k=k)(scores.flatten(), relevant.flatten(), indexes=indexes.flatten()).item()
