"""Greedy decoding of a transformers model one token at a time with its KV cache (the ``Decodes``
protocol): a causal language model (prefill = the prompt) or an encoder-decoder such as T5, BART
or Marian (prefill = the encoder once, then the decoder's first step; later steps read the
encoder's output and the cache, as ``generate`` does). ``module`` is a transformers model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def takes_logits_to_keep(module: Any) -> bool:
    """Whether the model's forward can project only some positions onto the vocabulary
    (transformers' own check, as generate() makes it; False for a model without it)."""
    return bool(getattr(module, "_supports_logits_to_keep", lambda: False)())


def is_encoder_decoder(module: Any) -> bool:
    return bool(getattr(getattr(module, "config", None), "is_encoder_decoder", False))


def decoder_start(module: Any, batch_size: int, device: Any) -> torch.Tensor:
    """The decoder's start token for each sequence of a batch ([batch, 1])."""
    start = module.config.decoder_start_token_id
    return torch.full((batch_size, 1), start, dtype=torch.long, device=device)


def greedy_step(module: Any, inputs: Any, state: Any | None) -> tuple[torch.Tensor, Any]:
    """The next token of each sequence and the state to pass back (see ``Decodes.greedy_step``)."""
    logits, state = logits_step(module, inputs, state)
    return logits.argmax(-1, keepdim=True), state


def logits_step(module: Any, inputs: Any, state: Any | None) -> tuple[torch.Tensor, Any]:
    """The last position's logits of each sequence ([batch, vocabulary]) and the state to pass
    back (see ``Decodes.logits_step``)."""
    if is_encoder_decoder(module):
        return _seq2seq_step(module, inputs, state)
    if state is None:  # the prompt: only its last position's logits, as generate() asks (logits_to_keep=1)
        mask = inputs.get("attention_mask") if isinstance(inputs, Mapping) else None
        keep = {"logits_to_keep": 1} if takes_logits_to_keep(module) else {}
        output = module(input_ids=inputs["input_ids"], attention_mask=mask, use_cache=True, **keep)
    else:
        cache, mask = state
        inputs = _token_tensor(inputs, module)
        if mask is not None:
            mask = torch.cat([mask, torch.ones_like(inputs)], dim=1)
        output = module(input_ids=inputs, attention_mask=mask, past_key_values=cache, use_cache=True)
    return output.logits[:, -1], (output.past_key_values, mask)


def _seq2seq_step(module: Any, inputs: Any, state: Any | None) -> tuple[torch.Tensor, Any]:
    """State is (cache, the source's attention mask, the encoder's output): the source is encoded once."""
    if state is None:
        mask = inputs.get("attention_mask")
        ids = inputs["input_ids"]
        encoded = module.get_encoder()(input_ids=ids, attention_mask=mask)
        prefix = inputs.get("decoder_input_ids")
        prefix = decoder_start(module, ids.shape[0], ids.device) if prefix is None else prefix
        output = module(encoder_outputs=encoded, attention_mask=mask, decoder_input_ids=prefix, use_cache=True)
    else:
        cache, mask, encoded = state
        inputs = _token_tensor(inputs, module)
        output = module(
            encoder_outputs=encoded,
            attention_mask=mask,
            decoder_input_ids=inputs,
            past_key_values=cache,
            use_cache=True,
        )
    return output.logits[:, -1], (output.past_key_values, mask, encoded)


def _token_tensor(tokens: Any, module: Any) -> torch.Tensor:
    """A step's tokens as the model takes them: a server's sampler chooses them as integers."""
    if isinstance(tokens, torch.Tensor):
        return tokens
    return torch.as_tensor(tokens, dtype=torch.long, device=next(module.parameters()).device)
