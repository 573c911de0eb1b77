"""The next token from a sequence's logits, as OpenAI-style servers choose it: the most likely at
temperature 0 (or absent); otherwise the logits divided by the temperature, cut to the ``top_k``
most likely, then to the smallest set whose probability reaches ``top_p`` (nucleus), and drawn from
a generator of the request's own seeded by ``seed``: the same seed, prompt and model give the same
completion whatever other requests are decoded beside it."""

from __future__ import annotations

import numpy as np


class Sampler:
    def __init__(
        self,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        seed: int | None = None,
    ):
        self.temperature, self.top_p, self.top_k = temperature or 0.0, top_p or 1.0, top_k or 0
        self.random = np.random.default_rng(seed)  # no seed: fresh entropy, as OpenAI's

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def choose(self, logits: np.ndarray) -> int:
        if self.greedy:
            return int(np.argmax(logits))
        scaled = logits.astype(np.float64) / self.temperature
        probabilities = np.exp(scaled - scaled.max())
        probabilities /= probabilities.sum()
        candidates = self._candidates(probabilities)
        kept = probabilities[candidates] / probabilities[candidates].sum()
        drawn = int(np.searchsorted(np.cumsum(kept), self.random.random(), side="right"))
        return int(candidates[min(drawn, len(candidates) - 1)])

    def _candidates(self, probabilities: np.ndarray) -> np.ndarray:
        """The token ids that may be drawn, most likely first (ties by id): the top k, then the
        nucleus of what is left. Only the head is sorted (sorting a whole vocabulary costs
        milliseconds a token): without top_k it grows until it holds top_p of the probability, so
        the nucleus is exact."""
        size, total = len(probabilities), 1.0
        if 0 < self.top_k < size:
            order = _most_likely(probabilities, self.top_k)
            total = float(probabilities[order].sum())  # top_p applies to what top_k left
        elif self.top_p >= 1:
            return np.arange(size)
        else:
            head = 256
            while (order := _most_likely(probabilities, min(head, size))).size < size:
                if probabilities[order].sum() >= self.top_p:
                    break
                head *= 4
        if self.top_p < 1:  # the fewest tokens whose share of the probability reaches top_p
            reach = np.cumsum(probabilities[order]) / total
            order = order[: int(np.searchsorted(reach, self.top_p)) + 1]
        return order


def _most_likely(probabilities: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` most likely token ids, most likely first, ties by id."""
    if count < len(probabilities):
        head = np.argpartition(-probabilities, count - 1)[:count]
    else:
        head = np.arange(len(probabilities))
    return head[np.lexsort((head, -probabilities[head]))]
