"""Perplexity as llama.cpp's `llama-perplexity` computes it, and the WikiText files it reads.

The whole text is tokenized once (with the tokenizer's BOS, if it adds one) and cut into
windows of ``context`` tokens, the remainder dropped; each window is scored on its own with its
first token replaced by BOS (when the model has one), and only its second half counts: the
tokens after position ``context // 2``, each with at least half a window of context before it.
Perplexity is exp of the mean negative log-likelihood over every scored token of every window
(``perplexity()`` in llama.cpp's tools/perplexity/perplexity.cpp).
"""

from __future__ import annotations

from pathlib import Path

import torch

from honed.core.errors import SpecError
from honed.models.capabilities import ScoresTokens
from honed.tasks.data_files import FIELD, data_file

WIKITEXT_FILE = "wiki.test.raw"  # what llama.cpp's scripts/get-wikitext-2.sh fetches and scores
MIN_CONTEXT, MAX_CONTEXT = 16, 32_768


def check_context(context: int) -> int:
    if isinstance(context, bool) or not isinstance(context, int) or not MIN_CONTEXT <= context <= MAX_CONTEXT:
        raise SpecError(
            "task.options.context", context, f"tokens per window, an even integer from {MIN_CONTEXT} to {MAX_CONTEXT}"
        )
    if context % 2:
        raise SpecError("task.options.context", context, "an even number of tokens (the second half is scored)")
    return context


def raw_text(path: str | Path) -> str:
    """A WikiText raw file (``wiki.test.raw``, or the directory ``wikitext-2-raw`` that holds it),
    read whole, as llama-perplexity reads its ``-f`` file."""
    path = Path(path)
    if path.is_dir():
        path = path / WIKITEXT_FILE
    path = data_file(path, f"a WikiText raw file ({WIKITEXT_FILE}) or the directory that holds it", FIELD)
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise SpecError(FIELD, str(path), "a file with text in it")
    return text


def is_raw(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix == ".raw" or (path.is_dir() and (path / WIKITEXT_FILE).is_file())


def windows(scorer: ScoresTokens, text: str, context: int) -> list[list[int]]:
    """The text's token ids in windows of ``context``, each starting with BOS if the model has one."""
    tokens = scorer.token_ids(text)
    count = len(tokens) // context
    if count == 0:
        raise SpecError(
            "task.options.context", context, f"at most the text's {len(tokens)} tokens (one window at least)"
        )
    bos = _bos(scorer)
    cut = [tokens[i * context : (i + 1) * context] for i in range(count)]
    return [[bos, *window[1:]] if bos is not None else window for window in cut]


def scored_half(scorer: ScoresTokens, window: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits that predict the window's second half and those tokens: rows first .. n-2
    predict tokens first+1 .. n-1, with first = n // 2."""
    first = len(window) // 2
    logits = scorer.next_token_logits(window)[first:-1].float().cpu()
    return logits, torch.tensor(window[first + 1 :])


def _bos(scorer: ScoresTokens) -> int | None:
    """The one token the tokenizer puts before a text, if it puts exactly one there (BOS)."""
    plain, special = scorer.token_ids("a", special_tokens=False), scorer.token_ids("a")
    added = len(special) - len(plain)
    return special[0] if added == 1 and special[1:] == plain else None
