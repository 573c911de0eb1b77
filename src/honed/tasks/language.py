"""Language modelling: perplexity of a causal LM on shipped text (torchmetrics' Perplexity).

Each text is scored on its own (no packing): targets are the next tokens, the first token
has no prediction, and padding is ignored (-100). With ``context`` the text is scored as
llama.cpp's perplexity tool scores it instead: one token stream in fixed windows, the second
half of each counted (``perplexity_windows``), as on WikiText-2's raw files.

An optimised model is also compared with its base on the same texts, position by position, with
the measures llama.cpp's own perplexity tool reports: the mean KL divergence of the next-token
distributions and the share of positions where both pick the same top token. On real text a
near-lossless int8 keeps KL near 0.01; on random token ids even the base model's own GGUF looks
unfaithful, so this is the language model's guardrail, not agreement on synthetic inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import torch

from honed.core.errors import SpecError
from honed.models.capabilities import Capability, ScoresTokens, as_scorer
from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task, aligned_batches
from honed.tasks.data_files import texts
from honed.tasks.perplexity_windows import check_context, is_raw, raw_text, scored_half, windows

IGNORE = -100


@TASKS.register("language-modeling")
class LanguageModelingTask(Task):
    name = "language-modeling"
    requires = frozenset({Capability.TOKENIZES, Capability.SCORES_TOKENS})
    item_inputs = False  # texts differ in length
    metrics = ("perplexity",)
    primary = "perplexity"
    item_fields = ("texts",)
    agreement_metrics = ("top1_agreement", "logits_kl")  # per position; logits have no useful cosine
    output_name = "next-token logits at each position"

    def __init__(self, texts: list[str], context: int | None = None):
        if not texts:
            raise SpecError("texts", texts, "at least one text")
        self.texts = texts
        self.context = None if context is None else check_context(context)
        self.texts_scored = len(texts)  # how many the last scoring read (a screen reads fewer)

    @classmethod
    def default(cls, data: str | None = None, context: int | None = None) -> LanguageModelingTask:
        """The 24 shipped retrieval passages and 12 multiple-choice contexts, as plain text; or
        ``data``: a .txt file (one text per line), a .jsonl file of {"text": ...}, or a WikiText
        raw file (``wiki.test.raw``, or its directory), read whole. ``context``: score as
        llama-perplexity does, in windows of this many tokens (its ``-c``; 512 by default there);
        a WikiText file is always scored so, 512 unless said."""
        if data is not None and is_raw(data):  # its lines, joined back to the file's text when scored
            return cls(raw_text(data).split("\n"), context or 512)
        if data is not None:
            return cls(texts(data), context)
        folder = resources.files("honed.tasks").joinpath("data")
        passages = [
            json.loads(line)["passage"]
            for line in folder.joinpath("retrieval_pairs.jsonl").read_text().splitlines()
            if line.strip()
        ]
        contexts = [
            json.loads(line)["ctx"]
            for line in folder.joinpath("multiple_choice.jsonl").read_text().splitlines()
            if line.strip()
        ]
        return cls(passages + contexts, context)

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[list[str], list[str]]]:
        return aligned_batches(self.texts, self.texts, batch_size, limit)

    def sample(self, batch_size: int, seed: int) -> Any:
        raise SpecError(
            "inputs.source", "task", "'synthetic' for language modelling (texts differ in length); use inputs.seq_len"
        )

    def scored(self, handle: ModelHandle, limit: int | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Each text's logits at every position that predicts a next token, and those tokens; with
        ``context``, each window's second half (``limit`` counts windows then)."""
        self.check_model(handle)
        scorer = as_scorer(handle)
        with handle.inference_context():
            if self.context is not None:
                pairs = [scored_half(scorer, w) for w in windows(scorer, "\n".join(self.texts), self.context)[:limit]]
            else:
                pairs = [_scored_whole(scorer, text) for text in self.texts[:limit]]
        self.texts_scored = len(pairs)
        return [logits for logits, _ in pairs], [targets for _, targets in pairs]

    def outputs(self, handle: ModelHandle, batch_size: int, limit: int | None) -> torch.Tensor:
        """Every scored position of every text, one row each: [positions, vocabulary]."""
        return torch.cat(self.scored(handle, limit)[0])

    def agreement_items(self, count: int) -> str:
        pieces = "texts" if self.context is None else f"windows of {self.context} tokens"
        return f"{count} token positions of {self.texts_scored} {pieces} of the task"

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        logits, targets = self.scored(handle, limit)
        length = max(t.numel() for t in targets)
        vocab = logits[0].shape[-1]
        predictions = torch.zeros(len(logits), length, vocab)
        references = torch.full((len(targets), length), IGNORE, dtype=torch.long)
        for i, (item_logits, item_targets) in enumerate(zip(logits, targets)):
            predictions[i, : item_targets.numel()] = item_logits
            references[i, : item_targets.numel()] = item_targets
        return predictions, references

    def metric_options(self, limit: int | None = None) -> dict[str, dict[str, Any]]:
        return {"perplexity": {"ignore_index": IGNORE}}


def _scored_whole(scorer: ScoresTokens, text: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A text's logits at every position that predicts a next token, and those tokens."""
    ids = scorer.token_ids(text)
    return scorer.next_token_logits(ids)[:-1].float().cpu(), torch.tensor(ids[1:])
