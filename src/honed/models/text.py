"""Synthetic English-like text for performance runs of language models."""

from __future__ import annotations

import random

_WORDS = (
    "the model runs on a small server and answers each request with a short summary of the "
    "document while the team measures latency memory and energy for every batch size they ship "
    "results are stored so that next month the same numbers can be repeated and compared with "
    "care because noise on shared machines hides real changes in speed quality or cost"
).split()


def synthetic_sentences(count: int, words: int, seed: int) -> list[str]:
    """``count`` sentences of ``words`` words each, reproducible for a given seed."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "." for _ in range(count)]
