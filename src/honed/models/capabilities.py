"""What a model can do beyond a forward pass on prepared tensors.

A handle declares its capabilities once it is loaded (``ModelHandle.capabilities``); an adapter
may also tell them from the model's files before anything loads (``static_capabilities``), so a
task that needs one the model lacks is refused in the parent, before any worker starts. Tasks
ask for capabilities (``Task.requires``) instead of probing a handle's attributes.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any, Protocol, cast

from honed.core.errors import SpecError


class Capability(str, Enum):
    TOKENIZES = "tokenizes"  # raw text -> model inputs (a tokenizer, or a pipeline that owns one)
    SCORES_TOKENS = "scores-tokens"  # next-token logits for input_ids: log-likelihoods of text
    GENERATES = "generates"  # autoregressive decoding (generate())
    TRANSCRIBES = "transcribes"  # speech to text: feature extractor, decoder and tokenizer
    WRITES_TEXT = "writes-text"  # text to text: an encoder-decoder (T5, BART, Marian) and its tokenizer


class ScoresTokens(Protocol):
    """What a handle with TOKENIZES and SCORES_TOKENS offers: tasks score text through these."""

    def token_ids(self, text: str, special_tokens: bool = True) -> list[int]: ...

    def next_token_logits(self, ids: list[int]) -> Any:
        """Float logits [len(ids), vocabulary]: row i scores the token after ids[: i + 1]."""


class Decodes(Protocol):
    """What a handle with GENERATES and SCORES_TOKENS offers: greedy decoding one token at a time
    with the model's KV cache, written so a loop can time the first token on its own."""

    def greedy_step(self, inputs: Any, state: Any | None) -> tuple[Any, Any]:
        """The next token of each sequence ([batch, 1] integers) and the state to pass back:
        with ``state`` None, ``inputs`` is a prepared prompt batch (prefill); after that it is
        the previous step's tokens alone, read against the cache that ``state`` holds."""

    def logits_step(self, inputs: Any, state: Any | None) -> tuple[Any, Any]:
        """As ``greedy_step``, but the last position's float logits of each sequence ([batch,
        vocabulary]) in place of its token: what a sampler chooses from."""


class TextDecoder(ScoresTokens, Decodes, Protocol):
    """A causal language model with its tokenizer (TOKENIZES, SCORES_TOKENS and GENERATES): what a
    server completes prompts with, decoding the new tokens into text as they come."""

    @property
    def tokenizer(self) -> Any:
        """The transformers tokenizer: ``decode`` and, where the model has one, ``chat_template``."""


class WritesText(Protocol):
    """What a handle with WRITES_TEXT offers (it decodes too: ``Decodes``, prefill = encoder + first step)."""

    def write(self, texts: list[str], max_new_tokens: int) -> list[str]:
        """Each text's output text (a translation, a summary), greedy, as deployed."""


class Transcribes(Protocol):
    """What a handle with TRANSCRIBES offers."""

    sampling_rate: int

    def transcribe(self, waveforms: list[Any], max_new_tokens: int) -> list[str]: ...

    def decoder_prefix(self, batch_size: int) -> Any:
        """The decoder's start tokens for a batch: the model scope of a speech model is the
        encoder plus one decoder step."""


class HasCapabilities(Protocol):
    """A loaded model as the ``as_*`` functions read it (a ``ModelHandle``)."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...


def as_scorer(handle: HasCapabilities) -> ScoresTokens:
    return cast(ScoresTokens, _declaring(handle, {Capability.TOKENIZES, Capability.SCORES_TOKENS}))


def as_decoder(handle: HasCapabilities) -> Decodes:
    """A causal language model (next-token scores) or a text encoder-decoder (writes text)."""
    scores = Capability.WRITES_TEXT if Capability.WRITES_TEXT in handle.capabilities else Capability.SCORES_TOKENS
    return cast(Decodes, _declaring(handle, {Capability.GENERATES, scores}))


def as_text_decoder(handle: HasCapabilities) -> TextDecoder:
    needs = {Capability.TOKENIZES, Capability.SCORES_TOKENS, Capability.GENERATES}
    return cast(TextDecoder, _declaring(handle, needs))


def as_writer(handle: HasCapabilities) -> WritesText:
    return cast(WritesText, _declaring(handle, {Capability.WRITES_TEXT}))


def as_transcriber(handle: HasCapabilities) -> Transcribes:
    return cast(Transcribes, _declaring(handle, {Capability.TRANSCRIBES}))


def _declaring(handle: HasCapabilities, needs: set[Capability]) -> HasCapabilities:
    """``handle`` once it declares ``needs``: the ``as_*`` functions above hand it on as the type of
    what it can do, so a task reaches ``transcribe`` or ``token_ids`` through a type rather than an
    attribute it hopes is there. A handle that does not declare them is refused, naming them."""
    if gaps := missing(needs, handle.capabilities):
        raise SpecError("model", handle.name, describe(needs), hint="it lacks " + ", ".join(c.value for c in gaps))
    return handle


_PHRASES = {
    Capability.TOKENIZES: "has a tokenizer for raw text",
    Capability.SCORES_TOKENS: "scores next tokens (a causal language model, e.g. AutoModelForCausalLM)",
    Capability.GENERATES: "generates tokens",
    Capability.TRANSCRIBES: "transcribes speech (a speech-to-text model such as Whisper, with its feature "
    "extractor and tokenizer)",
    Capability.WRITES_TEXT: "writes text from text (an encoder-decoder such as T5, BART or Marian, with its tokenizer)",
}

# Exported to another runtime, a model keeps its source's pre-processing and nothing else;
# exported to a runtime that decodes (OpenVINO's stateful graph, llama.cpp), its decoding too.
KEPT_BY_EXPORT = frozenset({Capability.TOKENIZES})
KEPT_BY_DECODER_EXPORT = frozenset({Capability.TOKENIZES, Capability.SCORES_TOKENS, Capability.GENERATES})
# A speech-to-text model exported as encoder and stateful decoder (OpenVINO) still transcribes.
KEPT_BY_SPEECH_EXPORT = frozenset({Capability.TOKENIZES, Capability.GENERATES, Capability.TRANSCRIBES})


def describe(capabilities: Iterable[Capability]) -> str:
    """'a model that has a tokenizer ... and scores next tokens ...', in a fixed order."""
    phrases = [_PHRASES[c] for c in Capability if c in set(capabilities)]
    return "a model that " + " and ".join(phrases) if phrases else "any model"


def missing(required: Iterable[Capability], available: Iterable[Capability]) -> list[Capability]:
    have = set(available)
    return [c for c in Capability if c in set(required) and c not in have]
