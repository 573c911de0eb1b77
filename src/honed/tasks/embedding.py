"""Text embeddings: retrieval recall@k on shipped query/passage pairs (query i's passage is i)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import torch

from honed.models.capabilities import Capability
from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task, aligned_batches, as_tensor
from honed.tasks.data_files import jsonl_rows


@TASKS.register("text-embedding")
class TextEmbeddingTask(Task):
    name = "text-embedding"
    requires = frozenset({Capability.TOKENIZES})
    metrics = ("recall_at_k",)
    primary = "recall_at_k"
    item_fields = ("queries", "passages")
    agreement_metrics = ("output_cosine",)  # embeddings have no classes, so no top-1 or KL

    def __init__(self, queries: list[str], passages: list[str], k: int = 1):
        if len(queries) != len(passages):
            raise ValueError(f"{len(queries)} queries but {len(passages)} passages: they must be pairs")
        self.queries, self.passages, self.k = queries, passages, k

    @classmethod
    def default(cls, k: int = 1, data: str | None = None) -> TextEmbeddingTask:
        """24 shipped question/answer pairs, or ``data``: a JSONL file of {"query", "passage"} pairs;
        recall@k of each query's own passage among all passages."""
        if data is None:
            return cls.shipped(k)
        rows = jsonl_rows(data, {"query": (str,), "passage": (str,)}, '{"query": "...", "passage": "..."}')
        return cls([r["query"] for r in rows], [r["passage"] for r in rows], k=k)

    @classmethod
    def shipped(cls, k: int = 1) -> TextEmbeddingTask:
        """24 everyday question/answer pairs shipped with honed (written for it)."""
        text = resources.files("honed.tasks").joinpath("data/retrieval_pairs.jsonl").read_text()
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return cls([r["query"] for r in rows], [r["passage"] for r in rows], k=k)

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[list[str], list[str]]]:
        return aligned_batches(self.queries, self.passages, batch_size, limit)

    def predict(self, handle: ModelHandle, texts: list[str]) -> torch.Tensor:
        # Embeddings come from the model's own pipeline (tokenizer, forward, pooling).
        self.output_name = "the pipeline's pooled embedding"
        with handle.inference_context():
            return as_tensor(handle.run_pipeline(texts))

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[Any, Any]:
        queries, passages = [], []
        for query_texts, passage_texts in self.batches(batch_size, limit):
            queries.append(self.predict(handle, query_texts))
            passages.append(self.predict(handle, passage_texts))
        return torch.cat(queries), torch.cat(passages)

    def metric_options(self, limit: int | None = None) -> dict[str, dict[str, Any]]:
        return {"recall_at_k": {"k": self.k}}
