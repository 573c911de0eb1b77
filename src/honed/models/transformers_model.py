"""Hugging Face transformers models, from a local directory or (with a network) a hub id."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from honed.core.errors import ModelLoadError, SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models import hf_decoding, hf_preflight
from honed.models.capabilities import Capability
from honed.models.converted_source import local_ref, provenance
from honed.models.hf_config import (
    auto_class,
    auto_class_name,
    image_shape,
    meta_structure,
)
from honed.models.hf_config import read_config as _config
from honed.models.hf_preprocessors import load_preprocessors
from honed.models.output import ModelOutput
from honed.models.persist import written
from honed.models.registry import ADAPTERS
from honed.models.text import synthetic_sentences
from honed.models.torch_common import DTYPES, TorchBackedHandle, module_stats, prepare_torch, to_device, to_host


@ADAPTERS.register("transformers")
class TransformersHandle(TorchBackedHandle):
    """A transformers model from a directory, a hub id, a GGUF file or a CTranslate2 Whisper
    (converted once: honed.models.converted_source). Class methods read the source through ``local_ref``."""

    kind = "transformers"
    source_kind = "path-or-hub"
    module: Any  # a transformers PreTrainedModel: its config, generate and save_pretrained

    def __init__(
        self,
        ref: ModelRef,
        device: str,
        module: torch.nn.Module,
        tokenizer: Any | None,
        feature_extractor: Any | None = None,
        image_processor: Any | None = None,
    ):
        super().__init__(ref, device)
        weightless = next(module.parameters(), torch.empty(0)).is_meta  # load_structure: nothing to move
        self.module = (module if weightless else module.to(device)).eval()
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor  # audio models: waveform -> input_features
        self.image_processor = image_processor  # vision models: images -> pixel_values
        self.converted_from: dict[str, Any] | None = None  # the GGUF or CTranslate2 files it was converted from
        # An encoder-decoder's model scope is one decoder step: it keeps no KV cache (a cache in the
        # outputs would be work no caller reads, and stops ONNX and OpenVINO from tracing the graph).
        self._one_step = {"use_cache": False} if hf_decoding.is_encoder_decoder(self.module) else {}

    @classmethod
    def check(cls, ref: ModelRef) -> None:
        """A source that needs converting (GGUF, CTranslate2) is converted here, in the parent, once:
        its errors come before any worker."""
        local_ref(ref)

    @classmethod
    def load(
        cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None
    ) -> TransformersHandle:
        return cls._load(ref, device, threads, seed, weights=True)

    @classmethod
    def load_structure(
        cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None
    ) -> TransformersHandle:
        """The model built from its config on the meta device (no weights read), with its tokenizer
        and feature extractor: what a runtime step that runs kept files takes from its source."""
        return cls._load(ref, device, threads, seed, weights=False)

    @classmethod
    def _load(
        cls, ref: ModelRef, device: str, threads: int | None, seed: int | None, weights: bool
    ) -> TransformersHandle:
        device = prepare_torch(device, threads, seed)
        given, ref = ref, local_ref(ref)
        local = Path(ref.source).exists()
        config = _config(ref)
        auto = auto_class(auto_class_name(ref, config))
        # Code that a model's files name (auto_map) runs only when the user trusts the source.
        kwargs: dict[str, Any] = {"local_files_only": local, "trust_remote_code": ref.trust_code}
        if not ref.allow_pickle:
            kwargs["use_safetensors"] = True  # never unpickle pytorch_model.bin unless allowed
        if "dtype" in ref.options:
            if ref.options["dtype"] not in DTYPES:
                raise SpecError("model.options.dtype", ref.options["dtype"], ", ".join(DTYPES))
            kwargs["dtype"] = DTYPES[ref.options["dtype"]]
        try:
            module = (
                auto.from_pretrained(ref.source, config=config, **kwargs)
                if weights
                else meta_structure(auto, config, ref, kwargs.get("dtype"))
            )
        except (OSError, ValueError) as error:  # remote code without trust_code is refused with a ValueError
            hint = "" if ref.allow_pickle else " (only safetensors weights are loaded unless allow_pickle is set)"
            raise ModelLoadError(f"model.source: cannot load {ref.source!r}: {error}{hint}") from None
        found = load_preprocessors(ref.source, getattr(module, "main_input_name", None), local, ref.trust_code)
        handle = cls(given, device, module, found.tokenizer, found.feature_extractor, found.image_processor)
        handle.converted_from = provenance(Path(ref.source)) if ref is not given else None
        return handle

    def stats(self) -> Any:
        """Bytes on disk of what is loaded: a converted source's fp32 directory, not the GGUF it came from."""
        return module_stats(self.module, self.device, local_ref(self.ref).source)

    def runtime_info(self) -> dict[str, Any]:
        """Where the weights came from too, for a model converted from GGUF or CTranslate2 files."""
        info = super().runtime_info()
        return {**info, "converted_from": self.converted_from} if self.converted_from else info

    @property
    def main_input(self) -> str:
        """What the model reads: input_ids (text), pixel_values (vision), input_features (audio)."""
        return getattr(self.module, "main_input_name", "input_ids")

    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(seed)
        if self.main_input != "input_ids":
            shape = inputs.shape or self._feature_shape()
            if shape is None:
                raise SpecError("inputs.shape", None, f"the per-item shape of {self.main_input}, e.g. [3, 224, 224]")
            values = torch.randn((batch_size, *shape), generator=generator).to(self.float_dtype)
            return self._with_decoder_prefix({self.main_input: values.to(self.device)})
        vocab = int(getattr(self.module.config, "vocab_size", 1000))
        ids = torch.randint(0, vocab, (batch_size, inputs.seq_len), generator=generator)
        return self._with_decoder_prefix(
            {"input_ids": ids.to(self.device), "attention_mask": torch.ones_like(ids).to(self.device)}
        )

    def _with_decoder_prefix(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """An encoder-decoder (Whisper, T5, BART) reads its decoder's start token too: the model
        scope is the encoder plus one decoder step."""
        if hf_decoding.is_encoder_decoder(self.module):
            batch["decoder_input_ids"] = self.decoder_prefix(len(next(iter(batch.values()))))
        return batch

    def _feature_shape(self) -> tuple[int, ...] | None:
        """A vision model's (channels, height, width) from its config; an audio model's (mel bins,
        frames) from its feature extractor: Whisper's 80 x 3000 (30 s)."""
        extractor = self.feature_extractor
        if extractor is None or not hasattr(extractor, "nb_max_frames"):
            return image_shape(self.module.config) if self.main_input == "pixel_values" else None
        return (extractor.feature_size, extractor.nb_max_frames)

    @classmethod
    def check_inputs(cls, ref: ModelRef, inputs: InputSpec) -> None:
        hf_preflight.check_inputs(local_ref(ref), inputs)

    @classmethod
    def meta_module(cls, ref: ModelRef) -> torch.nn.Module | None:
        return hf_preflight.meta_module(local_ref(ref))

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability] | None:
        return hf_preflight.static_capabilities(local_ref(ref))

    @property
    def capabilities(self) -> frozenset[Capability]:
        found = {Capability.TOKENIZES} if self.tokenizer is not None else set()
        generates = hasattr(self.module, "can_generate") and self.module.can_generate()
        if generates:
            found.add(Capability.GENERATES)
        if generates and not hf_decoding.is_encoder_decoder(self.module):
            found.add(Capability.SCORES_TOKENS)
        if self.transcribes:
            found.add(Capability.TRANSCRIBES)
        elif generates and self.tokenizer is not None and hf_decoding.is_encoder_decoder(self.module):
            found.add(Capability.WRITES_TEXT)
        return frozenset(found)

    def raw_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> list[str] | list[np.ndarray]:
        if self.feature_extractor is not None:  # speech: quiet seeded noise at the extractor's sampling rate
            rng = np.random.default_rng(seed)
            samples = round(inputs.audio_seconds * self.sampling_rate)
            return [(0.05 * rng.standard_normal(samples)).astype(np.float32) for _ in range(batch_size)]
        if self.tokenizer is None:
            raise SpecError("protocol.scope", "pipeline", "'model' (this model has no tokenizer for raw text)")
        return synthetic_sentences(batch_size, inputs.seq_len, seed)

    def prepare(self, batch: Any) -> dict[str, torch.Tensor]:
        if not isinstance(batch, Mapping):  # a task's images or features, for the model's main input
            batch = {self.main_input: batch}
        return super().prepare(batch)

    def forward(self, prepared: dict[str, torch.Tensor]) -> ModelOutput:
        return ModelOutput.of(self.module(**prepared, **self._one_step))

    @property
    def sampling_rate(self) -> int:
        return int(getattr(self.feature_extractor, "sampling_rate", 16_000))

    def preprocess(self, raw: list[Any]) -> dict[str, torch.Tensor]:  # texts, waveforms or images
        """Texts, waveforms or (PIL) images as the model's inputs, through its own pre-processing."""
        if self.feature_extractor is not None:  # waveforms -> log-mel features
            features = self.feature_extractor(raw, sampling_rate=self.sampling_rate, return_tensors="pt").input_features
            return {"input_features": features.to(device=self.device, dtype=self.float_dtype)}
        if self.main_input == "pixel_values":
            if self.image_processor is None:
                raise SpecError("inputs", "images", "model-scope tensors (this model has no image processor)")
            pixels = self.image_processor(raw, return_tensors="pt")["pixel_values"]
            return {"pixel_values": pixels.to(device=self.device, dtype=self.float_dtype)}
        return self._with_decoder_prefix(self._tokenized(raw))

    @property
    def _text_tokenizer(self) -> Any:
        """The tokenizer, for what reads or writes text (a model without one is refused)."""
        if self.tokenizer is None:
            raise SpecError("inputs", "text", "model-scope tensors (this model has no tokenizer)")
        return self.tokenizer

    def _tokenized(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """What the tokenizer gives that the model's forward names (a T5 given a BERT tokenizer
        reads no token_type_ids)."""
        batch = self._text_tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        accepted = inspect.signature(self.module.forward).parameters
        return to_device({name: value for name, value in batch.items() if name in accepted}, self.device)

    @property
    def transcribes(self) -> bool:
        """A speech-to-text model: feature extractor, tokenizer and a generate() method."""
        return self.feature_extractor is not None and self.tokenizer is not None and hasattr(self.module, "generate")

    def token_ids(self, text: str, special_tokens: bool = True) -> list[int]:
        return list(self._text_tokenizer(text, add_special_tokens=special_tokens)["input_ids"])

    def next_token_logits(self, ids: list[int]) -> torch.Tensor:
        batch = torch.tensor([ids], device=self.device)
        return self.module(input_ids=batch).logits[0].float()

    def greedy_step(self, inputs: Any, state: Any | None) -> tuple[torch.Tensor, Any]:
        return hf_decoding.greedy_step(self.module, inputs, state)

    def logits_step(self, inputs: Any, state: Any | None) -> tuple[torch.Tensor, Any]:
        return hf_decoding.logits_step(self.module, inputs, state)

    def decoder_prefix(self, batch_size: int) -> torch.Tensor:
        return hf_decoding.decoder_start(self.module, batch_size, self.device)

    def write(self, texts: list[str], max_new_tokens: int) -> list[str]:
        """Text to text, as deployed: tokenized, greedy ``generate``, detokenised."""
        ids = self.module.generate(
            **self._tokenized(texts), max_new_tokens=max_new_tokens, do_sample=False, num_beams=1
        )
        return self._text_tokenizer.batch_decode(ids, skip_special_tokens=True)

    def transcribe(self, waveforms: list[np.ndarray], max_new_tokens: int) -> list[str]:
        """Speech to text, as deployed: features, greedy autoregressive decoding, detokenised text."""
        ids = self.module.generate(**self.preprocess(waveforms), max_new_tokens=max_new_tokens, do_sample=False)
        return self._text_tokenizer.batch_decode(ids, skip_special_tokens=True)

    def run_pipeline(self, raw: list[Any]) -> Any:  # texts or waveforms
        if self.transcribes:
            return self.transcribe(raw, self.max_new_tokens)
        if Capability.WRITES_TEXT in self.capabilities:
            return self.write(raw, self.max_new_tokens)
        return to_host(self.run(self.preprocess(raw)).main)

    def deploy_files(self, directory: Path) -> list[str]:
        """A transformers directory: ``AutoModel.from_pretrained(directory)`` and its tokenizer."""
        return written(directory, lambda: self.module.save_pretrained(directory, safe_serialization=True)) + (
            self.deploy_preprocessing(directory)
        )

    def deploy_preprocessing(self, directory: Path) -> list[str]:
        parts = [part for part in (self.tokenizer, self.feature_extractor, self.image_processor) if part is not None]
        return written(directory, lambda: [part.save_pretrained(directory) for part in parts])

    def save_files(self, directory: Path) -> dict[str, Any]:
        self.module.save_pretrained(directory / "model", safe_serialization=True)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(directory / "model")
        return {"auto_class": auto_class_name(self.ref, self.module.config), "files": ["model/"]}

    @classmethod
    def load_saved(
        cls, directory: Path, manifest: dict[str, Any], device: str, threads: int | None, trust_code: bool = False
    ) -> TransformersHandle:
        ref = ModelRef(
            kind="transformers",
            source=str(directory / "model"),
            name=manifest.get("name"),
            options={"auto_class": manifest.get("auto_class", "AutoModel")},
            trust_code=trust_code,
        )
        return cls.load(ref, device, threads)
