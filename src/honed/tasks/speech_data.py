"""What a speech-recognition task reads and how it compares texts: LibriSpeech as laid out on disk,
and the text normaliser both the references and the transcripts pass through before WER.

- ``basic``: lower case, punctuation dropped, single spaces (honed's own, the default);
- ``whisper``: Whisper's English text normaliser (transformers' ``EnglishTextNormalizer``: numbers,
  contractions, fillers, spellings), what published Whisper WERs, faster-whisper's benchmark and the
  Open ASR leaderboard score after. Its British-to-American spellings come from a Whisper model's
  ``normalizer.json`` (option ``spellings``); without one, every other rule still applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from honed.core.errors import SpecError
from honed.tasks.media_files import MAX_ITEMS, read_audio

NORMALISERS = ("basic", "whisper")
LIBRISPEECH = "<speaker>/<chapter>/<speaker>-<chapter>.trans.txt listing '<id> TEXT' lines, <id>.flac beside it"


def basic(text: str) -> str:
    """Lower case, punctuation dropped, single spaces."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def normaliser(name: str, spellings: str | None = None) -> Callable[[str], str]:
    """The text normaliser called ``name`` (one of NORMALISERS)."""
    if name not in NORMALISERS:
        raise SpecError("task.options.normaliser", name, " or ".join(repr(n) for n in NORMALISERS))
    if name == "basic":
        if spellings is not None:
            raise SpecError("task.options.spellings", spellings, "nothing: spellings are for normaliser = 'whisper'")
        return basic
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    return EnglishTextNormalizer(_spellings(spellings) if spellings else {})


def _spellings(path: str) -> dict[str, str]:
    where = Path(path)
    try:
        mapping = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SpecError("task.options.spellings", path, "a Whisper normalizer.json file", hint=str(error)) from None
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise SpecError("task.options.spellings", path, 'a JSON object of {"british": "american"} spellings')
    return mapping


def read_librispeech(directory: Path, sampling_rate: int) -> tuple[list[np.ndarray], list[str]]:
    """Every utterance of a LibriSpeech split (``test-clean``), or of one speaker or chapter of it,
    in sorted chapter and listing order: its audio at ``sampling_rate`` and its transcript."""
    listings = sorted(directory.glob("**/*.trans.txt"))
    if not listings:
        raise SpecError("task.options.data", str(directory), f"a LibriSpeech directory: {LIBRISPEECH}")
    waveforms: list[np.ndarray] = []
    transcripts: list[str] = []
    for listing in listings:
        for number, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            ident, _, text = line.strip().partition(" ")
            if not text:
                raise SpecError(f"task.options.data ({listing.name}, line {number})", line, "'<id> TRANSCRIPT'")
            if len(waveforms) == MAX_ITEMS:
                raise SpecError("task.options.data", str(directory), f"at most {MAX_ITEMS} utterances")
            waveforms.append(read_audio(listing.parent / f"{ident}.flac", sampling_rate, "task.options.data"))
            transcripts.append(text)
    return waveforms, transcripts
