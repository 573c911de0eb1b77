"""Several sequences decoded at once, prompts fed together, joining at different steps, each
decoding token for token as the handle's own greedy steps decode it alone: llama.cpp's parallel
sequences (one batch a step) and a torch model's sequences in turn."""

from __future__ import annotations

import numpy as np
import pytest

from honed.core.errors import SpecError
from honed.models.sequences import InterleavedSequences, sequence_decoder

PROMPTS = ["the cat sat on", "a dog ran to the", "one two three four five"]
NEW = 12


def _alone(handle, tokens: list[int]) -> list[int]:
    ids = np.array([tokens])
    step, state, out = handle.prepare({"input_ids": ids, "attention_mask": np.ones_like(ids)}), None, []
    with handle.inference_context():
        for _ in range(NEW):
            step, state = handle.greedy_step(step, state)
            out.append(int(np.asarray(step).reshape(-1)[0]))
    return out


def _staggered(decoder, prompts: list[list[int]]) -> dict[int, list[int]]:
    """Sequences 0 and 1 start together, 2 joins three steps later; every running sequence steps
    together until it has NEW tokens."""
    made: dict[int, list[int]] = {}
    for step in range(NEW + 3):
        joining = {slot: tokens for slot, tokens in enumerate(prompts) if step == 3 * (slot // 2)}
        for slot, logits in decoder.start(joining).items():
            made[slot] = [int(logits.argmax())]
        running = {slot: tokens[-1] for slot, tokens in made.items() if len(tokens) < NEW}
        if running:
            for slot, logits in decoder.step(running).items():
                made[slot].append(int(logits.argmax()))
    return made


@pytest.mark.parametrize("model", ["gguf", "torch"])
def test_sequences_joining_at_different_steps_decode_as_each_alone(model, tiny_gguf_handle, tiny_llama_dir):
    if model == "gguf":
        handle = tiny_gguf_handle
    else:
        from honed.core.protocol import ModelRef
        from honed.models import load_model

        handle = load_model(ModelRef(kind="transformers", source=str(tiny_llama_dir)))
    prompts = [handle.token_ids(prompt) for prompt in PROMPTS]
    decoder = sequence_decoder(handle, slots=3)
    assert isinstance(decoder, InterleavedSequences) == (model == "torch")
    made = _staggered(decoder, prompts)
    assert [made[slot] for slot in range(3)] == [_alone(handle, tokens) for tokens in prompts]
    decoder.free(1)  # a freed slot takes a new sequence from an empty cache
    assert int(decoder.start({1: prompts[2]})[1].argmax()) == _alone(handle, prompts[2])[0]


def test_a_llama_cpp_sequence_is_held_within_its_context(tiny_gguf_handle):
    decoder = tiny_gguf_handle.parallel_sequences(2)
    with pytest.raises(SpecError, match="tokens for this llama.cpp model") as refused:
        decoder.check([1] * decoder.context)
    assert refused.value.field == "prompt"
    decoder.start({0: [1, 2, 3]})
    assert decoder.room(0) == decoder.context - 3 and decoder.room(1) == decoder.context
    decoder.step({0: 4})
    assert decoder.room(0) == decoder.context - 4
    decoder.close()
