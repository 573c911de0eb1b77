"""Timed greedy generation for causal language models and text encoder-decoders: time to first
token and per token.

The loop is written out (prefill, then one token at a time with the KV cache, through the
handle's ``greedy_step``) rather than calling ``generate``, so the first token's time is exact:
prefill (for an encoder-decoder, the encoder and the decoder's first step) plus the first pick.
Every runtime that decodes (torch, OpenVINO's stateful graph) runs the same loop.
"""

from __future__ import annotations

import time
from typing import Any

from honed.core.errors import SpecError
from honed.models.capabilities import as_decoder
from honed.models.handle import ModelHandle


def greedy_generation(handle: ModelHandle, batch: dict[str, Any], new_tokens: int) -> int:
    """Generate ``new_tokens`` tokens greedily; return nanoseconds to the first token."""
    try:  # what decodes is as_decoder's to say; the scope is what the user chose
        decoder = as_decoder(handle)
    except SpecError:
        decoder = None
    if decoder is None or "input_ids" not in batch:  # a decoder's batch is a mapping
        raise SpecError(
            "protocol.scope",
            "generate",
            "'model' or 'pipeline' for this model; 'generate' times token-by-token decoding of a causal "
            "language model (AutoModelForCausalLM) or a text encoder-decoder (AutoModelForSeq2SeqLM: T5, BART)",
        )
    start = time.perf_counter_ns()
    token, state = decoder.greedy_step(batch, None)
    handle.synchronize()
    first = time.perf_counter_ns() - start
    for _ in range(new_tokens - 1):
        token, state = decoder.greedy_step(token, state)
    return first
