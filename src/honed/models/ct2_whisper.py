"""A Whisper checkpoint in CTranslate2's format (config.json, model.bin, tokenizer.json,
vocabulary.txt: what faster-whisper loads) converted into a transformers
``WhisperForConditionalGeneration`` directory with its tokenizer, feature extractor and
generation config, so that every recipe can start from it.

model.bin (binary version 6): the spec's name and revision, then each variable as its name, rank,
dimensions, data type and bytes, then aliases. CTranslate2's converter fuses the attention
projections (self-attention q|k|v in one matrix, cross-attention k|v), with zeros for the key's
absent bias; this splits them back. Only float checkpoints are read (an int8 one has lost
precision that no conversion restores)."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from honed.core.errors import ModelLoadError

# CTranslate2's DataType enum order (include/ctranslate2/types.h).
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_FLOATS = {"float32", "float16", "bfloat16"}


def is_ct2_whisper(path: Path) -> bool:
    return path.is_dir() and (path / "model.bin").is_file() and (path / "vocabulary.txt").is_file()


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def text(self) -> str:
        size = self.take("H")
        value = self.data[self.at : self.at + size - 1].decode()
        self.at += size
        return value


def read_model_bin(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """The spec's name and every variable (aliases resolved) of a CTranslate2 model.bin."""
    import torch

    reader = _Reader(path.read_bytes())
    version = reader.take("I")
    if version != 6:
        raise ModelLoadError(f"model.source: {path} is CTranslate2 binary version {version}; honed reads version 6")
    spec, _revision = reader.text(), reader.take("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(reader.take("I")):
        name, rank = reader.text(), reader.take("B")
        shape = [reader.take("I") for _ in range(rank)]
        dtype, size = _DTYPES[reader.take("B")], reader.take("I")
        raw = reader.data[reader.at : reader.at + size]
        reader.at += size
        if dtype == "bfloat16":  # numpy has no bfloat16: through torch, as float32
            tensor = torch.frombuffer(bytearray(raw), dtype=torch.bfloat16).float()
            variables[name] = tensor.numpy().reshape(shape)
        else:
            variables[name] = np.frombuffer(raw, dtype=dtype).reshape(shape)
    for _ in range(reader.take("I")):
        alias, target = reader.text(), reader.text()
        variables[alias] = variables[target]
    return spec, variables


def _layers(variables: dict[str, np.ndarray], stack: str) -> int:
    return len({name.split("/")[1] for name in variables if re.match(rf"{stack}/layer_\d+/", name)})


def state_dict(variables: dict[str, np.ndarray]) -> dict[str, Any]:
    """transformers' Whisper parameter names for CTranslate2's variables, as fp32 tensors."""
    import torch

    out: dict[str, Any] = {}

    def put(name: str, value: np.ndarray) -> None:
        out[name] = torch.from_numpy(np.array(value, dtype=np.float32))

    def linear(hf: str, ct: str) -> None:
        put(f"{hf}.weight", variables[f"{ct}/weight"])
        put(f"{hf}.bias", variables[f"{ct}/bias"])

    def norm(hf: str, ct: str) -> None:
        put(f"{hf}.weight", variables[f"{ct}/gamma"])
        put(f"{hf}.bias", variables[f"{ct}/beta"])

    def split(hf: str, ct: str, parts: tuple[str, ...]) -> None:
        """A fused projection back into its parts; the key has no bias (the fused one is zero there)."""
        weights = np.split(variables[f"{ct}/weight"], len(parts))
        biases = np.split(variables[f"{ct}/bias"], len(parts))
        for part, weight, bias in zip(parts, weights, biases):
            put(f"{hf}.{part}.weight", weight)
            if part != "k_proj":
                put(f"{hf}.{part}.bias", bias)

    for stack in ("encoder", "decoder"):
        prefix = f"model.{stack}"
        put(f"{prefix}.embed_positions.weight", variables[f"{stack}/position_encodings/encodings"])
        norm(f"{prefix}.layer_norm", f"{stack}/layer_norm")
        for i in range(_layers(variables, stack)):
            hf, ct = f"{prefix}.layers.{i}", f"{stack}/layer_{i}"
            split(f"{hf}.self_attn", f"{ct}/self_attention/linear_0", ("q_proj", "k_proj", "v_proj"))
            linear(f"{hf}.self_attn.out_proj", f"{ct}/self_attention/linear_1")
            norm(f"{hf}.self_attn_layer_norm", f"{ct}/self_attention/layer_norm")
            if stack == "decoder":
                split(f"{hf}.encoder_attn", f"{ct}/attention/linear_0", ("q_proj",))
                split(f"{hf}.encoder_attn", f"{ct}/attention/linear_1", ("k_proj", "v_proj"))
                linear(f"{hf}.encoder_attn.out_proj", f"{ct}/attention/linear_2")
                norm(f"{hf}.encoder_attn_layer_norm", f"{ct}/attention/layer_norm")
            linear(f"{hf}.fc1", f"{ct}/ffn/linear_0")
            linear(f"{hf}.fc2", f"{ct}/ffn/linear_1")
            norm(f"{hf}.final_layer_norm", f"{ct}/ffn/layer_norm")
    for conv in ("conv1", "conv2"):
        linear(f"model.encoder.{conv}", f"encoder/{conv}")
    put("model.decoder.embed_tokens.weight", variables["decoder/embeddings/weight"])
    return out


def convert(path: Path, directory: Path) -> dict[str, Any]:
    """The CTranslate2 Whisper in ``path`` as a transformers directory in ``directory``."""
    import torch
    import transformers
    from tokenizers import Tokenizer

    spec, variables = read_model_bin(path / "model.bin")
    kinds = {str(v.dtype) for name, v in variables.items() if name.endswith("/weight")}
    if spec != "WhisperSpec" or not kinds <= _FLOATS:
        raise ModelLoadError(
            f"model.source: {path} holds a CTranslate2 {spec} with {', '.join(sorted(kinds))} weights; "
            "honed converts a float Whisper (float32, float16 or bfloat16)"
        )
    facts = json.loads((path / "config.json").read_text())
    ids = Tokenizer.from_file(str(path / "tokenizer.json")).token_to_id
    end, start = ids("<|endoftext|>"), ids("<|startoftranscript|>")
    if end is None or start is None:
        raise ModelLoadError(f"model.source: {path}'s tokenizer.json has no Whisper <|startoftranscript|> token")
    embeddings = variables["decoder/embeddings/weight"]
    vocab_size, d_model = embeddings.shape
    ffn = variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]
    config = transformers.WhisperConfig(
        vocab_size=vocab_size,
        num_mel_bins=variables["encoder/conv1/weight"].shape[1],
        d_model=d_model,
        encoder_layers=_layers(variables, "encoder"),
        decoder_layers=_layers(variables, "decoder"),
        encoder_attention_heads=int(variables["encoder/num_heads"]),
        decoder_attention_heads=int(variables["decoder/num_heads"]),
        encoder_ffn_dim=ffn,
        decoder_ffn_dim=variables["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=variables["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=variables["decoder/position_encodings/encodings"].shape[0],
        decoder_start_token_id=start,
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=end,
        suppress_tokens=None,  # in the generation config only (generate() warns when both have them)
        begin_suppress_tokens=None,
        tie_word_embeddings=True,
        architectures=["WhisperForConditionalGeneration"],
    )
    with torch.device("meta"):
        model = transformers.WhisperForConditionalGeneration(config)
    model.load_state_dict(state_dict(variables), strict=False, assign=True)
    model.tie_weights()
    if missing := [n for n, p in model.named_parameters() if p.is_meta]:
        raise ModelLoadError(f"model.source: {path}: no CTranslate2 variable for {', '.join(missing[:5])}")
    model.generation_config = generation_config(config, facts, ids)
    model.save_pretrained(directory, safe_serialization=True)
    whisper_tokenizer(path).save_pretrained(directory)
    transformers.WhisperFeatureExtractor(feature_size=config.num_mel_bins).save_pretrained(directory)
    return {"spec": spec, "weights": sorted(kinds), "multilingual": config.vocab_size >= 51865}


def whisper_tokenizer(directory: Path) -> Any:
    """transformers' Whisper tokenizer over a CTranslate2 directory's tokenizer.json."""
    import transformers

    end = "<|endoftext|>"
    return transformers.WhisperTokenizer(  # the fast one: transformers 5 has no other
        tokenizer_file=str(directory / "tokenizer.json"), unk_token=end, bos_token=end, eos_token=end, pad_token=end
    )


def generation_config(config: Any, facts: dict[str, Any], ids: Any) -> Any:
    """How transformers' Whisper generate() builds its prompt, from CTranslate2's config and the
    tokenizer: start, language and task (multilingual models), no timestamps."""
    import transformers

    multilingual = config.vocab_size >= 51865  # the English-only models have one token fewer
    languages = {
        "lang_to_id": {f"<|{code}|>": ids(f"<|{code}|>") for code in _languages(facts, ids)},
        "task_to_id": {"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        "task": "transcribe",  # else generate() leaves the task token out of the prompt
    }
    return transformers.GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        suppress_tokens=facts.get("suppress_ids", []),
        begin_suppress_tokens=facts.get("suppress_ids_begin", []),
        alignment_heads=facts.get("alignment_heads"),
        is_multilingual=multilingual,
        return_timestamps=False,
        **(languages if multilingual else {}),
    )


def _languages(facts: dict[str, Any], ids: Any) -> list[str]:
    """The language codes whose token ids CTranslate2's config lists."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return [code for code in LANGUAGES if ids(f"<|{code}|>") in set(facts.get("lang_ids", []))]
