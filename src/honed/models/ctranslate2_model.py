"""Whisper on CTranslate2, the engine under faster-whisper: a directory in CTranslate2's format
(model.bin, config.json, vocabulary, tokenizer.json) run as it deploys, audio in and text out.
``options.compute_type`` is CTranslate2's (int8, int8_float32, float32, bfloat16, ...: what a
faster-whisper user sets); decoding is greedy (beam 1) with the prompt transformers' Whisper would
use (start, the detected language and "transcribe" for a multilingual model, no timestamps), so
its transcripts compare with the PyTorch model's.

Only whole transcriptions are measured (pipeline scope): CTranslate2 exposes no decoder step."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from honed.core.errors import ModelLoadError, SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models.capabilities import Capability
from honed.models.ct2_whisper import read_model_bin, whisper_tokenizer
from honed.models.handle import ModelHandle, ModelStats, sha256_of_files
from honed.models.output import ModelOutput
from honed.models.registry import ADAPTERS

COMPUTE_TYPES = ("default", "int8", "int8_float32", "int8_bfloat16", "float32", "bfloat16", "float16", "int8_float16")
TRANSCRIBES = frozenset({Capability.TOKENIZES, Capability.TRANSCRIBES})
_FILES = ("model.bin", "config.json", "vocabulary.json", "vocabulary.txt")


@ADAPTERS.register("ctranslate2")
class CTranslate2WhisperHandle(ModelHandle):
    kind = "ctranslate2"
    source_kind = "path"

    def __init__(self, ref: ModelRef, device: str, model: Any, tokenizer: Any, feature_extractor: Any):
        super().__init__(ref, device)
        self.model, self.tokenizer, self.feature_extractor = model, tokenizer, feature_extractor
        self.compute_type = str(ref.options.get("compute_type", "default"))
        self.directory = Path(ref.source)
        self.threads: int | None = None  # CTranslate2's intra-op threads (0 or None: its own choice)
        self.files: Any = None  # a recipe's converted files (a temporary directory) live as long as this

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> Any:
        import ctranslate2
        import transformers

        directory = Path(ref.source)
        if not (directory / "model.bin").is_file() or not (directory / "tokenizer.json").is_file():
            raise ModelLoadError(f"model.source: {ref.source!r} is no CTranslate2 Whisper (model.bin, tokenizer.json)")
        compute_type = str(ref.options.get("compute_type", "default"))
        if compute_type not in COMPUTE_TYPES:
            raise SpecError("model.options.compute_type", compute_type, ", ".join(COMPUTE_TYPES))
        device = "cuda" if device == "auto" and ctranslate2.get_cuda_device_count() > 0 else device
        device = "cpu" if device == "auto" else device
        model = ctranslate2.models.Whisper(
            str(directory),
            device=device.split(":")[0],
            compute_type=compute_type,
            inter_threads=1,
            intra_threads=threads or 0,
        )
        if (directory / "preprocessor_config.json").is_file():
            extractor = transformers.WhisperFeatureExtractor.from_pretrained(directory)
        else:
            extractor = transformers.WhisperFeatureExtractor(feature_size=model.n_mels)
        handle = cls(ref, device, model, whisper_tokenizer(directory), extractor)
        handle.threads = threads
        return handle

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability]:
        return TRANSCRIBES

    @property
    def capabilities(self) -> frozenset[Capability]:
        return TRANSCRIBES

    @property
    def sampling_rate(self) -> int:
        return int(self.feature_extractor.sampling_rate)

    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> Any:
        raise SpecError(
            "protocol.scope", "model", "'pipeline' for a CTranslate2 Whisper (it runs whole transcriptions)"
        )

    def forward(self, prepared: Any) -> ModelOutput:
        raise SpecError(
            "protocol.scope", "model", "'pipeline' for a CTranslate2 Whisper (it runs whole transcriptions)"
        )

    def raw_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> list[np.ndarray]:
        """Quiet seeded noise at the extractor's rate, as the PyTorch Whisper's synthetic clips."""
        rng = np.random.default_rng(seed)
        samples = round(inputs.audio_seconds * self.sampling_rate)
        return [(0.05 * rng.standard_normal(samples)).astype(np.float32) for _ in range(batch_size)]

    def _prompts(self, features: Any) -> list[list[int]]:
        ids = self.tokenizer.convert_tokens_to_ids
        start, plain = ids("<|startoftranscript|>"), ids("<|notimestamps|>")
        if not self.model.is_multilingual:
            return [[start, plain]] * features.shape[0]
        languages = [found[0][0] for found in self.model.detect_language(features)]
        return [[start, ids(language), ids("<|transcribe|>"), plain] for language in languages]

    def transcribe(self, waveforms: list[np.ndarray], max_new_tokens: int) -> list[str]:
        import ctranslate2

        extracted = self.feature_extractor(waveforms, sampling_rate=self.sampling_rate, return_tensors="np")
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(extracted.input_features, np.float32))
        prompts = self._prompts(features)
        results = self.model.generate(
            features, prompts, beam_size=1, max_length=len(prompts[0]) + max_new_tokens, suppress_blank=True
        )
        return self.tokenizer.batch_decode([r.sequences_ids[0] for r in results], skip_special_tokens=True)

    def run_pipeline(self, raw: list[np.ndarray]) -> list[str]:
        return self.transcribe(raw, self.max_new_tokens)

    def model_files(self) -> list[Path]:
        return [self.directory / name for name in _FILES if (self.directory / name).is_file()]

    @functools.cached_property
    def parameters(self) -> int:
        """Counted once: reading model.bin's table means reading the whole file."""
        return _parameters(self.directory / "model.bin")

    def stats(self) -> ModelStats:
        files = self.model_files()
        size = sum(path.stat().st_size for path in files)
        return ModelStats(
            parameters=self.parameters,
            bytes_in_memory=size,
            bytes_on_disk=size,
            dtype=self.model.compute_type,
            device=self.device,
            weights_sha256=sha256_of_files(files),
        )

    def runtime_info(self) -> dict[str, Any]:
        import ctranslate2

        return {
            "device": self.device,
            "device_name": self.device,
            "ctranslate2": ctranslate2.__version__,
            "compute_type": self.model.compute_type,
            "threads": self.threads,
            "supported_compute_types": sorted(ctranslate2.get_supported_compute_types(self.device.split(":")[0])),
        }

    def save_files(self, directory: Path) -> dict[str, Any]:
        names = [path.name for path in self.model_files()] + ["tokenizer.json"]
        for name in names:
            shutil.copyfile(self.directory / name, directory / name)
        return {"files": names, "compute_type": self.compute_type}

    def deploy_options(self) -> dict[str, Any]:
        return {"compute_type": self.compute_type}

    @classmethod
    def load_saved(
        cls, directory: Path, manifest: dict[str, Any], device: str, threads: int | None, trust_code: bool = False
    ) -> Any:
        ref = ModelRef(
            kind="ctranslate2",
            source=str(directory),
            name=manifest.get("name"),
            options={"compute_type": manifest.get("compute_type", "default")},
        )
        return cls.load(ref, device, threads)


def _parameters(model_bin: Path) -> int:
    """Weights counted from model.bin's variable table (its floats and int8 weights, not scales)."""
    _, variables = read_model_bin(model_bin)
    unique = {id(v): v for name, v in variables.items() if name.endswith(("/weight", "/bias", "/encodings"))}
    return int(sum(v.size for v in unique.values()))  # an alias (the tied output projection) counts once
