"""Multiple choice by log-likelihood (lm-evaluation-harness, Hellaswag format): each ending is
scored by the summed log-probability of its tokens after the context; acc_norm divides by the
ending's length in bytes. The prediction for an item is the list of its endings' scores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import torch

from honed.core.errors import SpecError
from honed.models.capabilities import Capability, ScoresTokens, as_scorer
from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task
from honed.tasks.data_files import jsonl_rows


@TASKS.register("multiple-choice")
class MultipleChoiceTask(Task):
    name = "multiple-choice"
    requires = frozenset({Capability.TOKENIZES, Capability.SCORES_TOKENS})
    item_inputs = False  # an item is several scored endings
    metrics = ("mc_accuracy", "mc_accuracy_norm")
    primary = "mc_accuracy_norm"  # what lm-evaluation-harness reports for Hellaswag
    item_fields = ("items",)

    def __init__(self, items: list[dict[str, Any]]):
        for index, item in enumerate(items):
            if not {"ctx", "endings", "label"} <= set(item) or not 0 <= item["label"] < len(item["endings"]):
                raise SpecError(
                    f"items[{index}]", item, "{'ctx': str, 'endings': [str, ...], 'label': index of the right ending}"
                )
        self.items = items

    supports_agreement = False  # a list of ending scores per item, not one output tensor

    @classmethod
    def default(cls, data: str | None = None) -> MultipleChoiceTask:
        """12 shipped Hellaswag-format items, for causal LMs with a tokenizer; or ``data``: a JSONL
        file in that format, {"ctx": ..., "endings": [...], "label": index of the right ending}."""
        if data is None:
            return cls.shipped()
        example = '{"ctx": "...", "endings": ["...", "..."], "label": 0}'
        return cls(jsonl_rows(data, {"ctx": (str,), "endings": (list,), "label": (int,)}, example, _ending_problem))

    @classmethod
    def shipped(cls) -> MultipleChoiceTask:
        """12 everyday-sense items in Hellaswag's format, written for honed."""
        text = resources.files("honed.tasks").joinpath("data/multiple_choice.jsonl").read_text()
        return cls([json.loads(line) for line in text.splitlines() if line.strip()])

    def sample(self, batch_size: int, seed: int) -> Any:
        raise SpecError(
            "inputs.source",
            "task",
            "'synthetic' for multiple choice (an item is several scored endings, "
            "not one model input); use inputs.seq_len",
        )

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[list[dict[str, Any]], list[int]]]:
        items = self.items[:limit]
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            yield chunk, [item["label"] for item in chunk]

    def scores(self, handle: ModelHandle, items: list[dict[str, Any]]) -> list[list[float]]:
        """Each item's log-likelihood of each ending."""
        self.check_model(handle)
        scorer = as_scorer(handle)
        with handle.inference_context():
            return [
                [continuation_loglikelihood(scorer, item["ctx"], " " + ending) for ending in item["endings"]]
                for item in items
            ]

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[Any, Any]:
        predictions, labels = [], []
        for items, gold in self.batches(batch_size, limit):
            predictions += self.scores(handle, items)
            labels += gold
        return predictions, labels

    def metric_options(self, limit: int | None = None) -> dict[str, dict[str, Any]]:
        return {"mc_accuracy_norm": {"choices": [item["endings"] for item in self.items[:limit]]}}


def continuation_loglikelihood(handle: ScoresTokens, context: str, continuation: str) -> float:
    """Sum of log p(continuation token | everything before it), tokenising context and
    continuation separately as lm-evaluation-harness does."""
    context_ids = handle.token_ids(context, special_tokens=False)
    continuation_ids = handle.token_ids(continuation, special_tokens=False)
    logits = handle.next_token_logits(context_ids + continuation_ids)
    log_probs = torch.log_softmax(logits[len(context_ids) - 1 : -1], dim=-1)
    return log_probs.gather(1, torch.tensor(continuation_ids, device=log_probs.device)[:, None]).sum().item()


def _ending_problem(row: dict[str, Any]) -> str | None:
    endings = row["endings"]
    if len(endings) < 2 or not all(isinstance(ending, str) for ending in endings):
        return "endings: a list of at least two texts"
    if not 0 <= row["label"] < len(endings):
        return f"label: the index of the right ending, 0 to {len(endings) - 1}"
    return None
