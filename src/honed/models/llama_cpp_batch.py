"""One ``llama_decode`` of a batch of tokens, each with its position and sequence id, through
llama.cpp's C API: what the GGUF handle (one sequence) and its parallel sequences (several) share."""

from __future__ import annotations

from typing import Any

import numpy as np


def decode_batch(ctx: Any, entries: list[tuple[int, int, int, bool]], vocabulary: int) -> np.ndarray:
    """Feed (token, position, sequence id, wants logits) entries to a llama.cpp context in one
    ``llama_decode``: the logits asked for, one row each, in order."""
    import llama_cpp

    batch = llama_cpp.llama_batch_init(len(entries), 0, 1)
    try:
        for i, (token, position, sequence, wanted) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
            batch.seq_id[i][0], batch.logits[i] = sequence, wanted
        batch.n_tokens = len(entries)
        if llama_cpp.llama_decode(ctx, batch) != 0:
            raise RuntimeError(f"llama.cpp could not decode {len(entries)} tokens at position {entries[0][1]}")
        rows = sum(1 for entry in entries if entry[3])
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits(ctx), shape=(rows, vocabulary)).copy()
    finally:
        llama_cpp.llama_batch_free(batch)
