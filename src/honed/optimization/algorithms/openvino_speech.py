"""A speech-to-text encoder-decoder (Whisper) on OpenVINO that decodes without recomputing.

Two graphs: the encoder, which also projects its output to every decoder layer's cross-attention
keys and values (once per clip, as transformers' cache does after the first step), and one
decoder step, whose self-attention cache is kept inside the infer request as state variables
(as for a causal LM) and which reads the cross-attention keys and values as inputs, shared with
the encoder's output tensors, never copied. Decoding itself stays transformers' ``generate``
(prompt tokens, language detection, suppressed tokens, stopping): it runs on the source model
with its encoder and forward pass replaced by these graphs, so a transcript is what the torch
model would write with the same logits."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from honed.core.protocol import ModelRef
from honed.models.capabilities import KEPT_BY_SPEECH_EXPORT, Capability
from honed.models.openvino_model import OpenVinoHandle, Precision, compile_cpu
from honed.models.output import ModelOutput
from honed.optimization.algorithms.exported import SourceInputs
from honed.optimization.algorithms.openvino_decoder import cache_names
from honed.optimization.algorithms.runtime import OnnxExport


def _cross_in_bf16(encoder: Any, decoder: Any) -> tuple[Any, Any]:
    """Cross keys and values handed over in bf16: as f32 inputs the plugin converted all of them
    (110 MB for whisper-small's 30 s) at every decoder step, 9 of its 33 ms."""
    import openvino as ov
    from openvino.preprocess import PrePostProcessor

    names = [port.get_any_name() for port in encoder.outputs if port.get_any_name().startswith("cross.")]
    steps = PrePostProcessor(encoder)
    for name in names:
        steps.output(name).tensor().set_element_type(ov.Type.bf16)
    encoder = steps.build()
    steps = PrePostProcessor(decoder)
    for name in names:
        steps.input(name).tensor().set_element_type(ov.Type.bf16)
    return encoder, steps.build()


@functools.cache
def _encoded_type() -> type:
    """transformers (an extra) is imported when a Whisper is routed, not when honed lists its algorithms."""
    from transformers.modeling_outputs import BaseModelOutput

    @dataclass
    class Encoded(BaseModelOutput):
        """The encoder's output as generate() passes it along, with the cross keys and values
        (OpenVINO tensors of the encoder's request) that the decoder step reads."""

        cross: list[Any] | None = None

    return Encoded


class SpeechDecoderHandle(SourceInputs, OpenVinoHandle):
    """Model scope: the encoder plus one decoder step from an empty cache (the decoder prefix's
    logits, as the torch model gives them). Pipeline scope: transformers' generate on the source
    model, its encoder and forward pass running these graphs."""

    def __init__(
        self,
        ref: ModelRef,
        encoder: Any,
        decoder: Any,
        precision: Precision,
        source: Any,
        export: OnnxExport,
        threads: int | None,
    ):
        if precision == "bf16":
            encoder, decoder = _cross_in_bf16(encoder, decoder)
        super().__init__(ref, "cpu", decoder, compile_cpu(decoder, precision, threads), precision)
        self._exported_from(source, export)
        self.encoder_model, self.encoder = encoder, compile_cpu(encoder, precision, threads)
        self._route_generate(source.module)

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.source.capabilities & KEPT_BY_SPEECH_EXPORT

    def graphs(self) -> list[Any]:
        return [self.encoder_model, self.model]

    def save_files(self, directory: Path) -> dict[str, Any]:
        """Both graphs, as a deployment loads them; loading the saved directory replays the recipe."""
        import openvino as ov

        for name, model in (("encoder", self.encoder_model), ("decoder", self.model)):
            ov.save_model(model, str(directory / f"{name}.xml"), compress_to_fp16=False)
        return {
            "files": [f"{n}.{e}" for n in ("encoder", "decoder") for e in ("xml", "bin")],
            "precision": self.precision,
        }

    def model_files(self) -> list[Path]:
        return [
            Path(self.ref.source).with_name(name) for name in ("encoder.xml", "encoder.bin")
        ] + super().model_files()

    @property
    def tokenizer(self) -> Any:
        return self.source.tokenizer

    @property
    def sampling_rate(self) -> int:
        return self.source.sampling_rate

    def raw_inputs(self, batch_size: int, inputs: Any, seed: int) -> Any:
        return self.source.raw_inputs(batch_size, inputs, seed)  # clips of audio, as the source takes them

    def decoder_prefix(self, batch_size: int) -> Any:
        return self.source.decoder_prefix(batch_size)

    def prepare(self, batch: Any) -> dict[str, np.ndarray]:
        return {
            name: np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value) for name, value in batch.items()
        }

    def _encode(self, features: np.ndarray) -> tuple[Any, list[Any]]:
        """The last hidden state (copied out) and the cross keys and values (the request's own
        tensors: a fresh request per clip, so a later clip cannot overwrite them)."""
        request = self.encoder.create_infer_request()
        request.infer({"input_features": np.ascontiguousarray(features, dtype=np.float32)})
        outputs = [request.get_output_tensor(i) for i in range(len(self.encoder.outputs))]
        return np.array(outputs[0].data), outputs[1:]

    def _start(self, cross: list[Any]) -> Any:
        request = self.compiled.create_infer_request()
        for name, tensor in zip(cache_names("cross", len(cross) // 2), cross):
            request.set_tensor(name, tensor)
        return request

    def forward(self, prepared: dict[str, np.ndarray]) -> ModelOutput:
        _, cross = self._encode(prepared["input_features"])
        request = self._start(cross)
        logits = request.infer({"input_ids": prepared["decoder_input_ids"].astype(np.int64)})["logits"]
        return ModelOutput.of_arrays(["logits"], [np.array(logits)])

    def transcribe(self, waveforms: list[np.ndarray], max_new_tokens: int) -> list[str]:
        features = self.source.preprocess(waveforms)["input_features"].float()
        ids = self.source.module.generate(input_features=features, max_new_tokens=max_new_tokens, do_sample=False)
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)

    def run_pipeline(self, raw: Any) -> Any:
        return self.transcribe(raw, self.max_new_tokens)

    def _route_generate(self, module: Any) -> None:  # a transformers WhisperForConditionalGeneration
        """generate() on the source model (its weights freed) calls the encoder once and the
        model once per step; both go to OpenVINO, the decoder's cache in an infer request per generation."""
        from transformers.modeling_outputs import Seq2SeqLMOutput

        handle, encoded_type = self, _encoded_type()

        def encoded(input_features: torch.Tensor) -> Any:
            hidden, cross = handle._encode(input_features.detach().float().numpy())
            return encoded_type(last_hidden_state=torch.from_numpy(hidden), cross=cross)

        class Encoder(torch.nn.Module):
            def __init__(self, original: Any):  # the model's WhisperEncoder
                super().__init__()
                # generate() reads their strides, and takes the model's device from its first
                # parameter: these two (unused, uninitialised) say "cpu" where the rest is on meta.
                self.conv1, self.conv2 = original.conv1.to_empty(device="cpu"), original.conv2.to_empty(device="cpu")
                self.config = original.config
                self.main_input_name = "input_features"

            def forward(self, input_features: torch.Tensor, **_: Any) -> Any:
                return encoded(input_features)

        state = threading.local()  # concurrent callers (a server's threads) each decode on their own request

        def forward(
            decoder_input_ids: torch.Tensor,
            encoder_outputs: Any = None,
            past_key_values: Any = None,
            input_features: torch.Tensor | None = None,
            **_: Any,
        ) -> Any:
            # One generation passes one cache object to every step (left empty: the cache is
            # OpenVINO's) and only the tokens the cache has not seen; a call without one, e.g.
            # language detection (a multilingual model's first call, given the features), stands alone.
            if encoder_outputs is None:
                assert input_features is not None, "a step without encoder outputs is given the features"
                encoder_outputs = encoded(input_features)
            if past_key_values is None or getattr(state, "cache", None) is not past_key_values:
                state.request, state.cache = handle._start(encoder_outputs.cross), past_key_values
            logits = state.request.infer({"input_ids": decoder_input_ids.numpy().astype(np.int64)})["logits"]
            return Seq2SeqLMOutput(logits=torch.from_numpy(np.array(logits)), past_key_values=past_key_values)

        module.model.encoder = Encoder(module.model.encoder)
        module.forward = forward
