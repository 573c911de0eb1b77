"""The sampler against hand-computed distributions, and the completion text's stop strings with a
tokenizer whose tokens are single characters (so where a stop string begins is known)."""

from __future__ import annotations

import numpy as np
import pytest

from honed.serve.completion_text import CompletionText
from honed.serve.sampling import Sampler

LOGITS = np.log(np.array([0.1, 0.5, 0.15, 0.25], dtype=np.float32))  # token 1 most likely, then 3, 2, 0


def _frequencies(sampler: Sampler, draws: int = 20_000) -> np.ndarray:
    return np.bincount([sampler.choose(LOGITS) for _ in range(draws)], minlength=4) / draws


def test_the_sampler_draws_from_the_distribution_its_options_leave():
    assert {Sampler().choose(LOGITS), Sampler(temperature=0, seed=3).choose(LOGITS)} == {1}  # greedy
    cases = [
        ({}, [0.1, 0.5, 0.15, 0.25]),
        # top_p 0.7: the fewest most likely tokens reaching 0.7 are 1 and 3 (0.75), renormalised.
        ({"top_p": 0.7}, [0, 2 / 3, 0, 1 / 3]),
        ({"top_k": 3}, [0, 5 / 9, 1.5 / 9, 2.5 / 9]),  # token 0 dropped
        # top_k 3, then top_p 0.8 of what is left (0.5, 0.25, 0.15 over 0.9) keeps 1 and 3.
        ({"top_k": 3, "top_p": 0.8}, [0, 2 / 3, 0, 1 / 3]),
    ]
    for seed, (options, expected) in enumerate(cases):
        frequencies = _frequencies(Sampler(temperature=1.0, seed=seed, **options))
        np.testing.assert_allclose(frequencies, expected, atol=0.015, err_msg=str(options))
    # temperature 0.5 squares the probabilities: 0.01, 0.25, 0.0225, 0.0625 over their sum.
    squared = np.array([0.01, 0.25, 0.0225, 0.0625])
    np.testing.assert_allclose(_frequencies(Sampler(temperature=0.5, seed=4)), squared / squared.sum(), atol=0.015)


def test_the_same_seed_draws_the_same_tokens_and_a_large_vocabulary_keeps_an_exact_nucleus():
    logits = np.random.default_rng(0).normal(0, 3, 49_152).astype(np.float32)
    first = [Sampler(temperature=2.0, top_p=0.9, seed=11).choose(logits) for _ in range(3)]
    assert first == [Sampler(temperature=2.0, top_p=0.9, seed=11).choose(logits) for _ in range(3)]
    probabilities = np.exp((logits.astype(np.float64) - logits.max()) / 2.0)
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities, kind="stable")  # ties (float32 logits) by token id, as the sampler
    nucleus = order[: int(np.searchsorted(np.cumsum(probabilities[order]), 0.9)) + 1]
    assert 256 < len(nucleus) < 40_000  # past the first head the sampler sorts, short of the vocabulary
    sampler = Sampler(temperature=2.0, top_p=0.9, seed=12)
    np.testing.assert_array_equal(sampler._candidates(probabilities), nucleus)
    assert {sampler.choose(logits) for _ in range(300)} <= set(nucleus.tolist())


class _Characters:
    """A tokenizer whose token i is the character chr(i)."""

    def decode(self, tokens, skip_special_tokens=True):
        return "".join(map(chr, tokens))


def _feed(text: CompletionText, characters: str) -> list[str]:
    return [text.add(ord(character)) for character in characters]


@pytest.mark.parametrize("stops", [("END",), ("xx", "END")])
def test_a_stop_string_is_held_back_while_it_may_begin_and_the_text_ends_before_it(stops):
    text = CompletionText(_Characters(), stops)
    pieces = _feed(text, "ab EN")
    assert "".join(pieces) == "ab " and not text.stopped  # "EN" may begin "END": held back
    assert _feed(text, "D") == [""] and text.stopped and text.rest() == ""
    text = CompletionText(_Characters(), stops)
    assert "".join(_feed(text, "ab ENx")) == "ab ENx"[: 6 - (1 if "xx" in stops else 0)]  # "x" may begin "xx"
    assert "".join(_feed(text, "y")) + text.rest() == ("y" if "xx" not in stops else "xy")


def test_without_stop_strings_each_token_gives_its_text_and_an_incomplete_character_waits():
    class Bytes:
        def decode(self, tokens, skip_special_tokens=True):
            return bytes(tokens).decode("utf-8", errors="replace")

    text = CompletionText(Bytes())
    pieces = [text.add(byte) for byte in "hé!".encode()]  # é is two bytes: its first alone decodes to U+FFFD
    assert pieces == ["h", "", "é", "!"] and text.rest() == ""
