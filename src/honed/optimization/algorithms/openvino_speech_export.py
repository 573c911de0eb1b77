"""A Whisper's two OpenVINO graphs, exported from the torch model: the encoder, which also
projects its output to every decoder layer's cross-attention keys and values, and one decoder
step with its self-attention cache as state (openvino_speech.py runs them)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from honed.core.protocol import InputSpec
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithms.openvino_decoder import cache_names, make_stateful
from honed.optimization.algorithms.runtime import OnnxExport

_PAST_LENGTH = 3  # the traced example's cache length: not 0 or 1, which torch.export would specialise


class _EncoderWithCrossCache(torch.nn.Module):
    """input_features -> (last hidden state, cross key and value per decoder layer, [batch, heads,
    frames, head size]): each layer's encoder_attn k_proj/v_proj laid out as WhisperAttention does."""

    def __init__(self, model: Any):  # a transformers WhisperForConditionalGeneration
        super().__init__()
        self.encoder, self.layers = model.get_encoder(), model.get_decoder().layers

    def forward(self, input_features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        hidden = self.encoder(input_features).last_hidden_state
        cross = []
        for layer in self.layers:
            attention = layer.encoder_attn
            shape = (hidden.shape[0], -1, attention.num_heads, attention.head_dim)
            cross += [
                attention.k_proj(hidden).view(shape).transpose(1, 2),
                attention.v_proj(hidden).view(shape).transpose(1, 2),
            ]
        return (hidden, *cross)


class _DecoderStep(torch.nn.Module):
    """(input_ids, cross key/value per layer, past self key/value per layer) -> (logits, present
    self key/value per layer), through transformers' own decoder and an EncoderDecoderCache."""

    model: Any  # a transformers WhisperForConditionalGeneration (its config, decoder and proj_out)

    def __init__(self, model: torch.nn.Module, layers: int):
        super().__init__()
        self.model, self.layers = model, layers

    def forward(self, input_ids: torch.Tensor, *caches: torch.Tensor) -> tuple[torch.Tensor, ...]:
        from transformers import EncoderDecoderCache

        config, n = self.model.config, self.layers
        own, cross = _filled(caches[2 * n :]), _filled(caches[: 2 * n])
        cache = EncoderDecoderCache(own, cross)
        cache.is_updated = dict.fromkeys(range(n), True)  # cross keys and values are given: never recomputed
        # The decoder attends across only when given encoder states; their values are unused here.
        placeholder = caches[0].new_zeros(input_ids.shape[0], 1, config.d_model)
        output = self.model.get_decoder()(
            input_ids=input_ids, encoder_hidden_states=placeholder, past_key_values=cache, use_cache=True
        )
        logits = self.model.proj_out(output.last_hidden_state)
        return (logits, *(t for layer in own.layers for t in (layer.keys, layer.values)))


def _filled(tensors: tuple[torch.Tensor, ...]) -> Any:
    """A DynamicCache holding (key, value) pairs as they are: not through update(), whose
    concatenation onto an empty 1-D tensor OpenVINO's converter rejects."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache()
    for key, value in zip(tensors[::2], tensors[1::2]):
        layer = DynamicLayer()
        layer.lazy_initialization(key, value)
        layer.keys, layer.values = key, value
        cache.layers.append(layer)
    return cache


def export_speech(handle: TorchBackedHandle) -> tuple[Any, Any, OnnxExport]:
    """The encoder and the stateful decoder step, both converted by OpenVINO's PyTorch frontend
    (the decoder from torch.export, for its dynamic token and cache lengths), so attention stays
    one fused operation that reads the cross keys and values where they lie."""
    import openvino as ov

    module: Any = handle.module  # a transformers WhisperForConditionalGeneration
    config = module.config
    features = handle.example_inputs(1, InputSpec(), seed=0)["input_features"]
    layers = len(module.get_decoder().layers)
    cross_names, past_names, present_names = (cache_names(prefix, layers) for prefix in ("cross", "past", "present"))
    with torch.no_grad():
        encoder = ov.convert_model(
            _EncoderWithCrossCache(module).eval(),
            example_input=(features,),
            input=[ov.PartialShape([-1, *features.shape[1:]])],
            share_weights=False,
        )
    for port, name in zip(encoder.outputs, ["last_hidden_state", *cross_names]):
        port.get_tensor().set_names({name})
    encoder.inputs[0].get_tensor().set_names({"input_features"})
    # Example caches in the layout WhisperAttention makes: [batch, heads, positions, head size].
    heads = config.decoder_attention_heads
    size, frames = config.d_model // heads, config.max_source_positions
    cross = [torch.randn(2, heads, frames, size) for _ in range(2 * layers)]
    past = [torch.randn(2, heads, _PAST_LENGTH, size) for _ in range(2 * layers)]
    ids = torch.full((2, 2), int(config.decoder_start_token_id), dtype=torch.long)
    batch, new, frames, cached = (torch.export.Dim(n, min=1, max=32768) for n in ("batch", "new", "frames", "cached"))
    shapes = ({0: batch, 1: new}, (*({0: batch, 2: frames} for _ in cross), *({0: batch, 2: cached} for _ in past)))
    with torch.no_grad():
        program = torch.export.export(
            _DecoderStep(module, layers).eval(), (ids, *cross, *past), dynamic_shapes=shapes, strict=False
        )
    decoder = ov.convert_model(program)
    for port, name in zip(decoder.inputs, ["input_ids", *cross_names, *past_names]):
        port.get_tensor().set_names({name})
    for port, name in zip(decoder.outputs, ["logits", *present_names]):
        port.get_tensor().set_names({name})
    make_stateful(decoder, dict(zip(past_names, present_names)))
    files = tempfile.TemporaryDirectory(prefix="honed-export-")
    path = Path(files.name) / "decoder.xml"
    return encoder, decoder, OnnxExport(files, path, ["input_features", "decoder_input_ids"])
