"""A GGUF file as the source of a PyTorch model (``kind = "transformers"``, source ``*.gguf``):
transformers' GGUF loader dequantises it to fp32 (needs ``gguf`` and ``accelerate``), once
(converted_source keeps the result). The record says the base was dequantised, and from what."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from honed.core.errors import ModelLoadError


def is_gguf_file(path: Path) -> bool:
    return path.suffix.lower() == ".gguf" and path.is_file()


def file_type(path: Path) -> str:
    """The GGUF's quantisation as llama.cpp names it (``Q4_1``, ``Q8_0``, ``F16``), from
    ``general.file_type``; "unknown" where the file does not say."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    field = reader.fields.get("general.file_type")
    if field is None:
        return "unknown"
    value = int(field.parts[field.data[0]][0])
    try:
        return gguf.LlamaFileType(value).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"type {value}"


def convert(path: Path, directory: Path) -> dict[str, Any]:
    """``path`` dequantised into ``directory`` as a transformers causal LM with its tokenizer."""
    import torch
    import transformers

    where, name = str(path.parent), path.name
    try:
        model: Any = transformers.AutoModelForCausalLM.from_pretrained(where, gguf_file=name, dtype=torch.float32)
        tokenizer = transformers.AutoTokenizer.from_pretrained(where, gguf_file=name)
    except (ImportError, OSError, ValueError, KeyError, NotImplementedError) as error:
        # transformers reads the architectures its GGUF mapping knows (Llama, Mistral, Qwen2, ...)
        raise ModelLoadError(f"model.source: transformers cannot dequantise {str(path)!r}: {error}") from None
    # The weights are plain fp32 now; transformers still marks the model as GGUF-quantised, which
    # would refuse save_pretrained and make the saved config ask for the GGUF loader again.
    model.hf_quantizer, model.is_quantized = None, False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    if model.generation_config is not None:
        model.generation_config.save_pretrained(directory)
    return {"file_type": file_type(path), "dequantised": "fp32"}
