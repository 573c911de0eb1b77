"""llama.cpp's parallel sequences: a context of its own beside the handle's, built from the same
loaded weights with the handle's settings, where each slot is a sequence id with a KV cache of its
own, and every running sequence's next token is fed in one ``llama_decode``. On a CPU, decoding is
bound by reading the weights, so eight tokens in one batch cost far less than eight batches of one."""

from __future__ import annotations

from typing import Any

import numpy as np

from honed.core.errors import SpecError
from honed.models.llama_cpp_batch import decode_batch


class LlamaSequences:
    def __init__(self, llama: Any, slots: int, context: int):
        """``context``: the tokens each sequence may hold (prompt plus new tokens)."""
        import llama_cpp

        params = llama_cpp.llama_context_params.from_buffer_copy(llama.context_params)  # the handle's own
        params.n_ctx = context * slots
        params.n_batch = params.n_ubatch = max(slots, min(context, 512))
        # A cache of its own for each sequence: with one cache shared (kv_unified) a sequence's logits
        # moved by up to 0.7 when others ran beside it (SmolLM2 q8_0); apart, by 2e-5.
        params.n_seq_max, params.kv_unified = slots, False
        self.ctx = llama_cpp.llama_init_from_model(llama.model, params)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp could not make a context for {slots} sequences of {context} tokens")
        self.slots, self.context, self.vocabulary = slots, context, int(llama.n_vocab())
        self._batch_tokens = int(params.n_batch)
        self._memory = llama_cpp.llama_get_memory(self.ctx)
        self._positions: dict[int, int] = {}  # slot -> the next token's position

    def check(self, tokens: list[int]) -> None:
        if not 0 < len(tokens) < self.context:
            raise SpecError("prompt", len(tokens), f"1 to {self.context - 1} tokens for this llama.cpp model")

    def start(self, prompts: dict[int, list[int]]) -> dict[int, np.ndarray]:
        """Every prompt in one batch where they fit (8 five-token prompts: 59 ms together, 150 ms
        one by one), in chunks of the batch size where they do not."""
        entries = []
        for slot, tokens in prompts.items():
            self.check(tokens)
            self.free(slot)
            entries += [(token, i, slot, i == len(tokens) - 1) for i, token in enumerate(tokens)]
            self._positions[slot] = len(tokens)
        rows: list[np.ndarray] = []
        for start in range(0, len(entries), self._batch_tokens):
            rows += self._decode(entries[start : start + self._batch_tokens])
        return dict(zip(prompts, rows))  # one row per prompt, in the order their last tokens were fed

    def step(self, tokens: dict[int, int]) -> dict[int, np.ndarray]:
        """One ``llama_decode`` for every slot's next token; a sequence at its context's end is
        refused (its caller stops it before: ``room``)."""
        entries = []
        for slot, token in tokens.items():
            if self._positions[slot] >= self.context:
                raise SpecError("max_tokens", self._positions[slot], f"prompt plus new tokens within {self.context}")
            entries.append((token, self._positions[slot], slot, True))
        rows = self._decode(entries)
        for slot in tokens:
            self._positions[slot] += 1
        return dict(zip(tokens, rows))

    def room(self, slot: int) -> int:
        """How many more tokens the slot's sequence can take."""
        return self.context - self._positions.get(slot, 0)

    def free(self, slot: int) -> None:
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self._memory, slot, -1, -1)
        self._positions.pop(slot, None)

    def close(self) -> None:
        import llama_cpp

        if self.ctx:
            llama_cpp.llama_free(self.ctx)
            self.ctx = None

    def __del__(self) -> None:  # the server's loop holds it for the process's life; tests build several
        self.close()

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> list[np.ndarray]:
        return list(decode_batch(self.ctx, entries, self.vocabulary))
