"""A GGUF file as the source of a PyTorch model (``kind = "transformers"``, source ``*.gguf``):
transformers' GGUF loader dequantises it to fp32 once, and the result is kept as a transformers
directory in honed's cache, so every recipe (OpenVINO, torchao, llama.cpp re-quantisation, ...)
starts from the same real weights and each worker loads safetensors instead of converting again.
The cache key is the file's SHA-256 and the transformers version that converted it."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from honed.core.cache import cache_root
from honed.core.errors import ModelLoadError
from honed.core.protocol import ModelRef

MARKER = "honed-gguf.json"  # written last: a directory without it is an interrupted conversion


def is_gguf_file(source: str) -> bool:
    path = Path(source).expanduser()
    return path.suffix.lower() == ".gguf" and path.is_file()


def local_ref(ref: ModelRef) -> ModelRef:
    """``ref`` with a GGUF source replaced by its dequantised transformers directory; any other
    ``ref`` unchanged."""
    if not is_gguf_file(ref.source):
        return ref
    return ref.model_copy(update={"source": str(dequantised(Path(ref.source).expanduser().resolve()))})


def provenance(ref: ModelRef) -> dict[str, Any] | None:
    """What a GGUF-sourced model's record says about its base: the file, its quantisation type."""
    if not is_gguf_file(ref.source):
        return None
    facts = json.loads((Path(local_ref(ref).source) / MARKER).read_text())
    return {"dequantised_from": facts["gguf"], "gguf_file_type": facts["file_type"], "gguf_sha256": facts["sha256"]}


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


@functools.lru_cache(maxsize=8)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def dequantised(path: Path) -> Path:
    """The directory holding ``path`` dequantised to fp32 (converted now if not yet cached)."""
    import transformers

    stat = path.stat()
    sha = _sha256(path, stat.st_size, stat.st_mtime_ns)
    target = cache_root() / "gguf" / f"{sha[:16]}-transformers-{transformers.__version__}"
    if (target / MARKER).is_file():
        return target
    kind = file_type(path)
    print(f"honed: dequantising {path.name} ({kind}) to fp32 once; kept in {target}", file=sys.stderr, flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        _convert(path, scratch)
        facts = {"gguf": str(path), "file_type": kind, "sha256": sha, "transformers": transformers.__version__}
        (scratch / MARKER).write_text(json.dumps(facts, indent=2) + "\n")
        scratch.chmod(0o755)
        try:
            scratch.rename(target)  # atomic: a concurrent conversion that finished first wins
        except OSError:
            if not (target / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _convert(path: Path, directory: Path) -> None:
    import torch
    import transformers

    where, name = str(path.parent), path.name
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(where, gguf_file=name, dtype=torch.float32)
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
