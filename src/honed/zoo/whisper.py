"""A Whisper-architecture model with seeded random weights, saved as a transformers directory
(config, weights, tokenizer, feature extractor) that loads and transcribes without a hub.

Its tokenizer is byte-level over GPT-2's alphabet (as Whisper's is) with Whisper's special
tokens; given ``vocab_size`` it is padded to that size in the real vocabulary's layout (text
tokens up to 50257, then the specials), so the output layer has the published shape.
"""

from __future__ import annotations

import json
from pathlib import Path

SPECIALS = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
TEXT_TOKENS = 50257  # Whisper's (and GPT-2's) text vocabulary: the specials start here


def byte_alphabet() -> list[str]:
    """GPT-2's byte-level alphabet: one printable character for each of the 256 bytes."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in printable]
    return [chr(c) for c in printable] + [chr(256 + i) for i in range(len(extra))]


def vocabulary(vocab_size: int | None = None) -> dict[str, int]:
    """Bytes and specials only (261 tokens), or padded to ``vocab_size`` in Whisper's layout."""
    vocab = {c: i for i, c in enumerate(byte_alphabet())}
    if vocab_size is not None:
        vocab.update({f"w{i}": i for i in range(len(vocab), TEXT_TOKENS)})  # filler words
    vocab.update({s: len(vocab) + i for i, s in enumerate(SPECIALS)})
    if vocab_size is not None:
        vocab.update({f"<|x{i}|>": i for i in range(len(vocab), vocab_size)})  # language and timestamp tokens
    return vocab


def save_random_whisper(
    directory: Path, vocab_size: int | None = None, chunk_length: int = 30, seed: int = 0, **config
) -> Path:
    """Write the model to ``directory``; ``config`` is WhisperConfig's sizes (d_model, layers,
    heads, ffn dims, positions), ``chunk_length`` the feature extractor's window in seconds."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer

    vocab = vocabulary(vocab_size)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab))
    (directory / "merges.txt").write_text("#version: 0.2\n")
    end = SPECIALS[0]
    tokenizer = WhisperTokenizer(
        str(directory / "vocab.json"),
        str(directory / "merges.txt"),
        unk_token=end,
        bos_token=end,
        eos_token=end,
        pad_token=end,
        additional_special_tokens=SPECIALS[1:],
    )
    torch.manual_seed(seed)
    whisper_config = WhisperConfig(
        vocab_size=len(vocab),
        num_mel_bins=80,
        decoder_start_token_id=vocab[SPECIALS[1]],
        eos_token_id=vocab[end],
        pad_token_id=vocab[end],
        bos_token_id=vocab[end],
        suppress_tokens=[],
        begin_suppress_tokens=[],
        **config,
    )
    WhisperForConditionalGeneration(whisper_config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    WhisperFeatureExtractor(chunk_length=chunk_length).save_pretrained(directory)
    return directory
