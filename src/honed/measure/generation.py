"""Timed greedy generation for causal language models: time to first token and per token.

The loop is written out (prefill, then one token at a time with the KV cache) rather than
calling ``generate``, so the first token's time is exact: prefill plus the first pick.
"""

from __future__ import annotations

import time
from typing import Any

from honed.errors import SpecError
from honed.models.capabilities import Capability


def greedy_generation(handle: Any, batch: dict[str, Any], new_tokens: int) -> int:
    """Generate ``new_tokens`` tokens greedily; return nanoseconds to the first token."""
    import torch

    if Capability.SCORES_TOKENS not in handle.capabilities or "input_ids" not in batch:
        raise SpecError("protocol.scope", "generate", "'model' or 'pipeline' for this model; 'generate' times "
                        "token-by-token decoding of a causal language model (kind 'transformers', AutoModelForCausalLM)")
    module = handle.module  # the decoding loop is timed on the torch module itself, with its KV cache
    start = time.perf_counter_ns()
    mask = batch.get("attention_mask")
    output = module(input_ids=batch["input_ids"], attention_mask=mask, use_cache=True)
    token = output.logits[:, -1:].argmax(-1)
    handle.synchronize()
    first = time.perf_counter_ns() - start
    cache = output.past_key_values
    for _ in range(new_tokens - 1):
        if mask is not None:
            mask = torch.cat([mask, torch.ones_like(token)], dim=1)
        output = module(input_ids=token, attention_mask=mask, past_key_values=cache, use_cache=True)
        cache, token = output.past_key_values, output.logits[:, -1:].argmax(-1)
    return first
