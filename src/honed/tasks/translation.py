"""Text to text: chrF and BLEU (sacrebleu) of what an encoder-decoder (T5, BART, Marian) writes
from each source text, greedy and detokenised, as deployed.

``TranslationTask.shipped()`` reads 24 everyday English sentences with German translations
written for honed; ``data`` takes a user's own pairs (a translation or summarisation set).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from honed.core.errors import SpecError
from honed.models.capabilities import Capability, as_writer
from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task, aligned_batches
from honed.tasks.data_files import jsonl_rows

_EXAMPLE = '{"source": "...", "target": "..."}'


@TASKS.register("translation")
class TranslationTask(Task):
    name = "translation"
    requires = frozenset({Capability.TOKENIZES, Capability.WRITES_TEXT})
    metrics = ("chrf", "bleu")
    primary = "chrf"  # chrF is steadier than BLEU on a few dozen sentences
    item_fields = ("sources", "targets")
    supports_agreement = False  # texts, not one output tensor per item

    def __init__(self, sources: list[str], targets: list[str], prefix: str = "", max_new_tokens: int = 64):
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets: they must be pairs")
        if max_new_tokens < 1:
            raise SpecError("task.options.max_new_tokens", max_new_tokens, "an integer >= 1")
        # The prefix is what T5-style models read as the instruction ("translate English to German: ").
        self.sources = [prefix + source for source in sources]
        self.targets, self.max_new_tokens = targets, max_new_tokens

    @classmethod
    def default(cls, prefix: str = "", max_new_tokens: int = 64, data: str | None = None) -> TranslationTask:
        """24 shipped English -> German pairs, or ``data``: a JSONL file of {"source", "target"}
        pairs; ``prefix`` goes before every source."""
        if data is None:
            return cls.shipped(prefix, max_new_tokens)
        rows = jsonl_rows(data, {"source": (str,), "target": (str,)}, _EXAMPLE)
        return cls([r["source"] for r in rows], [r["target"] for r in rows], prefix, max_new_tokens)

    @classmethod
    def shipped(cls, prefix: str = "", max_new_tokens: int = 64) -> TranslationTask:
        text = resources.files("honed.tasks").joinpath("data/translation_pairs.jsonl").read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return cls([r["source"] for r in rows], [r["target"] for r in rows], prefix, max_new_tokens)

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[list[str], list[str]]]:
        return aligned_batches(self.sources, self.targets, batch_size, limit)

    def written(self, handle: ModelHandle, texts: list[str]) -> list[str]:
        """Each source text's output text."""
        self.check_model(handle)
        with handle.inference_context():
            return as_writer(handle).write(texts, self.max_new_tokens)

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[Any, Any]:
        texts = [text for sources, _ in self.batches(batch_size, limit) for text in self.written(handle, sources)]
        return texts, self.targets[:limit]
