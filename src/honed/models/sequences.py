"""Several generations decoded at once, each joining and leaving between decoding steps (what LLM
servers call continuous batching): the ``SequenceDecoder`` that ``honed serve`` drives. A GGUF
model decodes every running sequence's next token in one llama.cpp batch (its parallel sequences,
each with a KV cache of its own: ``gguf_sequences``); any other text decoder steps its
sequences in turn, each with its own cache (``InterleavedSequences``): the same scheduling, a
request never waits for another to finish, without sharing the weights' reads between them."""

from __future__ import annotations

import sys
from typing import Any, Protocol

import numpy as np

from honed.models.capabilities import as_text_decoder


class SequenceDecoder(Protocol):
    """Up to ``slots`` sequences, each decoded against its own cache. Logits are float32 numpy
    arrays over the vocabulary, of the last position fed."""

    slots: int

    def check(self, tokens: list[int]) -> None:
        """Refuse a prompt this decoder cannot start (SpecError naming ``prompt``)."""

    def start(self, prompts: dict[int, list[int]]) -> dict[int, np.ndarray]:
        """Feed prompts into empty slots (slot -> prompt), together where the runtime can: each
        one's last position's logits."""

    def step(self, tokens: dict[int, int]) -> dict[int, np.ndarray]:
        """Feed each running slot's next token (slot -> token): each slot's logits."""

    def room(self, slot: int) -> int:
        """How many more tokens the slot's sequence can take (its context's end)."""

    def free(self, slot: int) -> None:
        """Forget a slot's sequence (finished, or its client went away)."""

    def close(self) -> None:
        """Give back what the decoder holds (a llama.cpp context)."""


def sequence_decoder(handle: Any, slots: int) -> SequenceDecoder:
    """The handle's own parallel decoder where it has one (llama.cpp), else its sequences in turn."""
    parallel = getattr(handle, "parallel_sequences", None)
    if parallel is not None:
        return parallel(slots)
    return InterleavedSequences(handle, slots)


def as_numpy_logits(logits: Any) -> np.ndarray:
    """One sequence's logits ([vocabulary] or [1, vocabulary]) as float32 numpy."""
    if hasattr(logits, "detach"):  # a torch tensor (bf16 has no numpy type)
        logits = logits.detach().float().cpu().numpy()
    return np.asarray(logits, dtype=np.float32).reshape(-1)


class InterleavedSequences:
    """Any text decoder's sequences stepped one after another, each with its own cache (the state
    its ``logits_step`` returns)."""

    def __init__(self, handle: Any, slots: int):
        self.handle, self.decoder, self.slots = handle, as_text_decoder(handle), slots
        self._states: dict[int, Any] = {}

    def check(self, tokens: list[int]) -> None:
        pass  # the model's own limit, where it has one, is its error

    def start(self, prompts: dict[int, list[int]]) -> dict[int, np.ndarray]:
        out = {}
        for slot, tokens in prompts.items():
            ids = np.array([tokens], dtype=np.int64)
            prompt = self.handle.prepare({"input_ids": ids, "attention_mask": np.ones_like(ids)})
            with self.handle.inference_context():
                logits, self._states[slot] = self.decoder.logits_step(prompt, None)
            out[slot] = as_numpy_logits(logits)
        return out

    def step(self, tokens: dict[int, int]) -> dict[int, np.ndarray]:
        out = {}
        with self.handle.inference_context():
            for slot, token in tokens.items():
                logits, self._states[slot] = self.decoder.logits_step(np.array([[token]]), self._states[slot])
                out[slot] = as_numpy_logits(logits)
        return out

    def room(self, slot: int) -> int:
        return sys.maxsize  # the model's own limit, where it has one, is its error

    def free(self, slot: int) -> None:
        self._states.pop(slot, None)

    def close(self) -> None:
        self._states.clear()
