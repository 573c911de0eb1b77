"""A transformers Llama-family causal LM written as a GGUF file for llama.cpp, with the `gguf`
library's writer and tensor-name map, following llama.cpp's convert_hf_to_gguf.py for Llama:
q/k projections permuted to GGML's rotary layout, Llama-3 rope scaling as a rope_freqs tensor.
honed tokenizes with the source model's tokenizer and hands llama.cpp token ids, so any tokenizer
works; where the source was itself a GGUF file (SmolLM2's), its vocabulary is copied across, so
llama.cpp's own tools (llama-cli, llama-cpp-python's server) take text too. Otherwise no vocabulary
is written ("none"): converting a Hugging Face tokenizer is llama.cpp's convert_hf_to_gguf.py's job."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from honed.core.errors import SpecError

# Architectures whose weights, norms and attention are Llama's (what llama.cpp's "llama" reads).
LLAMA_FAMILY = frozenset({"llama", "mistral"})


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """HF's rotate-half layout of a q/k projection to GGML's interleaved pairs."""
    return (
        weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _rope_factors(config: Any, head_dim: int) -> np.ndarray | None:
    """Llama-3's frequency-dependent rope scaling, as the per-frequency factors llama.cpp reads."""
    scaling = getattr(config, "rope_scaling", None) or getattr(config, "rope_parameters", None) or {}
    if str(scaling.get("rope_type", "")).lower() != "llama3":
        return None
    base = scaling.get("rope_theta", getattr(config, "rope_theta", 10000.0))
    factor, low, high = (
        scaling.get("factor", 8.0),
        scaling.get("low_freq_factor", 1.0),
        scaling.get("high_freq_factor", 4.0),
    )
    original = scaling.get("original_max_position_embeddings", 8192)
    factors = []
    for freq in 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)):
        wavelength = 2 * math.pi / freq
        if wavelength < original / high:
            factors.append(1.0)
        elif wavelength > original / low:
            factors.append(factor)
        else:
            smooth = (original / wavelength - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def _rope_theta(config: Any) -> float:
    parameters = getattr(config, "rope_parameters", None) or {}
    return float(parameters.get("rope_theta", getattr(config, "rope_theta", 10000.0)))


def _copy_vocabulary(writer: Any, source: str | None, vocab_size: int) -> bool:
    """The source GGUF's ``tokenizer.*`` fields, when it has a vocabulary of the model's size."""
    import gguf

    if source is None or Path(source).suffix != ".gguf" or not Path(source).is_file():
        return False
    fields = {name: field for name, field in gguf.GGUFReader(source).fields.items() if name.startswith("tokenizer.")}
    tokens = fields.get("tokenizer.ggml.tokens")
    if tokens is None or len(tokens.contents()) != vocab_size:
        return False
    for name, field in fields.items():
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), field.types[0], sub_type=sub_type)
    return True


def write_gguf(module: torch.nn.Module, path: Path, vocabulary_from: str | None = None) -> Path:
    """Write ``module`` (a transformers Llama-family causal LM) as an f32 GGUF file at ``path``,
    with the vocabulary of the GGUF file ``vocabulary_from`` when it has one of the model's size."""
    import gguf

    config: Any = module.config  # a transformers PretrainedConfig
    if config.model_type not in LLAMA_FAMILY:
        raise SpecError(
            "algorithm llama-cpp: model",
            config.model_type,
            f"a Llama-family causal LM ({', '.join(sorted(LLAMA_FAMILY))})",
        )
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    if not _copy_vocabulary(writer, vocabulary_from, config.vocab_size):
        writer.add_tokenizer_model("none")
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    state = module.state_dict()
    if getattr(config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # llama.cpp uses the token embedding as the output
    for name, tensor in state.items():
        if name.endswith("rotary_emb.inv_freq"):
            continue
        data = tensor.detach().float().cpu().numpy()
        if name.endswith("q_proj.weight"):
            data = _permute(data, heads)
        elif name.endswith("k_proj.weight"):
            data = _permute(data, kv_heads)
        mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            raise SpecError("algorithm llama-cpp: model", name, "tensors of a Llama-family model")
        writer.add_tensor(mapped, np.ascontiguousarray(data))
    factors = _rope_factors(config, head_dim)
    if factors is not None:
        writer.add_tensor(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", factors)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
