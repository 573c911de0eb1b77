"""Speech recognition: WER and CER (jiwer) of transcripts, and the real-time factor.

``SpeechRecognitionTask.shipped()`` reads ten English utterances shipped with honed
(synthesised with espeak-ng by tools/make_speech_data.py, 16 kHz mono WAV) and their
transcripts. Models are sequence-to-sequence speech models such as Whisper (transformers
``WhisperForConditionalGeneration``): the model's feature extractor turns audio into
``input_features`` and ``generate`` writes the transcript.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from honed.core.errors import SpecError
from honed.models.capabilities import Capability, Transcribes, as_transcriber
from honed.models.handle import ModelHandle
from honed.tasks.base import TASKS, Task, aligned_batches
from honed.tasks.data_files import jsonl_rows
from honed.tasks.media_files import read_wav
from honed.tasks.speech_data import basic, read_librispeech
from honed.tasks.speech_data import normaliser as _normaliser

SAMPLING_RATE = 16_000
normalise = basic  # the default normaliser (its 0.1 name)


@TASKS.register("speech-recognition")
class SpeechRecognitionTask(Task):
    name = "speech-recognition"
    requires = frozenset({Capability.TRANSCRIBES})
    metrics = ("wer", "cer")
    primary = "wer"
    item_fields = ("waveforms", "transcripts")
    supports_agreement = False  # transcripts, not one output tensor per item

    def __init__(
        self,
        waveforms: list[np.ndarray],
        transcripts: list[str],
        sampling_rate: int = SAMPLING_RATE,
        max_new_tokens: int = 64,
        normalise: Callable[[str], str] = basic,
    ):
        if len(waveforms) != len(transcripts):
            raise ValueError(f"{len(waveforms)} waveforms but {len(transcripts)} transcripts")
        self.waveforms, self.sampling_rate, self.max_new_tokens = waveforms, sampling_rate, max_new_tokens
        self.normalise = normalise  # references and transcripts alike, before WER
        self.transcripts = [normalise(t) for t in transcripts]
        self.batch_factors: list[float] = []  # the last scoring's real-time factor of each batch

    @classmethod
    def default(
        cls,
        max_new_tokens: int | None = None,
        joined: bool = False,
        data: str | None = None,
        normaliser: str = "basic",
        spellings: str | None = None,
    ) -> SpeechRecognitionTask:
        """10 shipped English utterances (espeak-ng, 16 kHz) with transcripts; Whisper-style models.
        ``joined``: one 26 s recording of all ten (see ``joined_up``), 160 new tokens by default.
        ``data``: a JSONL file of {"audio": "clip.wav", "text": "..."}, audio paths relative to it
        (PCM WAV, any rate, resampled to 16 kHz mono), or a LibriSpeech directory (a split such as
        test-clean, as laid out on disk: FLAC beside each chapter's ``*.trans.txt``).
        ``normaliser``: "basic" or "whisper" (Whisper's English normaliser, what published WERs use;
        ``spellings``: a Whisper model's normalizer.json), applied to references and transcripts."""
        tokens = max_new_tokens or (160 if joined else 64)
        text = _normaliser(normaliser, spellings)
        task = cls.shipped(tokens, text) if data is None else cls.read(data, tokens, text)
        return task.joined_up() if joined else task

    @classmethod
    def read(
        cls, path: str | Path, max_new_tokens: int = 64, normalise: Callable[[str], str] = basic
    ) -> SpeechRecognitionTask:
        """A JSONL file of {"audio", "text"} rows (WAV), or a LibriSpeech directory."""
        if Path(path).is_dir():
            waveforms, texts = read_librispeech(Path(path), SAMPLING_RATE)
            return cls(waveforms, texts, SAMPLING_RATE, max_new_tokens, normalise)
        rows = jsonl_rows(path, {"audio": (str,), "text": (str,)}, '{"audio": "clip.wav", "text": "..."}')
        folder = Path(path).parent
        waveforms = [read_wav(folder / row["audio"], SAMPLING_RATE) for row in rows]
        return cls(waveforms, [row["text"] for row in rows], SAMPLING_RATE, max_new_tokens, normalise)

    def joined_up(self, pause_s: float = 0.5) -> SpeechRecognitionTask:
        """One longer recording: every utterance in order with ``pause_s`` of silence between them
        (the shipped ten make 26 s, within Whisper's 30 s window) and the transcripts joined."""
        silence = np.zeros(round(pause_s * self.sampling_rate), dtype=np.float32)
        parts = [part for waveform in self.waveforms for part in (waveform, silence)][:-1]
        recording = np.concatenate(parts)
        joined = " ".join(self.transcripts)
        return type(self)([recording], [joined], self.sampling_rate, self.max_new_tokens, self.normalise)

    @classmethod
    def shipped(cls, max_new_tokens: int = 64, normalise: Callable[[str], str] = basic) -> SpeechRecognitionTask:
        path = Path(str(resources.files("honed.tasks").joinpath("data/speech/transcripts.jsonl")))
        return cls.read(path, max_new_tokens, normalise)

    def batches(self, batch_size: int, limit: int | None = None) -> Iterator[tuple[list[np.ndarray], list[str]]]:
        return aligned_batches(self.waveforms, self.transcripts, batch_size, limit)

    def _check(self, handle: ModelHandle) -> Transcribes:
        self.check_model(handle)
        speech = as_transcriber(handle)
        if speech.sampling_rate != self.sampling_rate:
            raise SpecError(
                "task.sampling_rate",
                self.sampling_rate,
                f"{speech.sampling_rate} Hz, the rate the model's feature extractor expects",
            )
        return speech

    def model_inputs(self, handle: ModelHandle, raw: list[np.ndarray]) -> dict[str, Any]:
        """Features of real utterances plus the decoder's start token: the encoder and one decoder step."""
        speech = self._check(handle)
        return {**handle.preprocess(raw), "decoder_input_ids": speech.decoder_prefix(len(raw))}

    def transcribed(self, handle: ModelHandle, waveforms: list[np.ndarray]) -> list[str]:
        """Each recording's transcript, normalised as the references are."""
        speech = self._check(handle)
        with handle.inference_context():
            return [self.normalise(text) for text in speech.transcribe(waveforms, self.max_new_tokens)]

    def collect(self, handle: ModelHandle, batch_size: int, limit: int | None) -> tuple[Any, Any]:
        import time

        texts, self.batch_factors = [], []
        for waveforms, _ in self.batches(batch_size, limit):
            started = time.perf_counter()
            texts += self.transcribed(handle, waveforms)
            self.batch_factors.append((time.perf_counter() - started) / self._seconds_of(waveforms))
        return texts, self.transcripts[:limit]

    def _seconds_of(self, waveforms: list[np.ndarray]) -> float:
        return sum(len(w) for w in waveforms) / self.sampling_rate

    def timing(self, seconds: float, items: int, limit: int | None) -> dict[str, float]:
        """The real-time factor over the set, and its median and 90th percentile over the batches
        (over the utterances at batch size 1): one long recording does not hide slow short ones."""
        audio_seconds = self._seconds_of(self.waveforms[:limit])
        spread = (
            {f"real_time_factor_p{q}": float(np.percentile(self.batch_factors, q)) for q in (50, 90)}
            if self.batch_factors
            else {}
        )
        return {
            **super().timing(seconds, items, limit),
            "audio_seconds": audio_seconds,
            "real_time_factor": seconds / audio_seconds,
            **spread,
        }
