"""Sources that transformers cannot load as they are, converted once to a transformers directory
kept in honed's cache (honed.core.cache), so every recipe starts from the same real weights and
each worker loads safetensors instead of converting again:

- a GGUF file (``*.gguf``): dequantised to fp32 by transformers' GGUF loader (gguf_source);
- a Whisper checkpoint in CTranslate2's format (a directory with model.bin and vocabulary.txt,
  what faster-whisper loads): read variable by variable (ct2_whisper).

A converted directory is keyed by the source's SHA-256 and the transformers version; its marker
file, written last, says what it came from (the record's runtime facts repeat it)."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from honed.core.cache import cache_root
from honed.core.protocol import ModelRef

MARKER = "honed-converted.json"  # written last: a directory without it is an interrupted conversion


def converter(source: str) -> tuple[str, Callable[[Path, Path], dict[str, Any]]] | None:
    """(what the source is, the function converting it into a directory) or None: loads as it is."""
    from honed.models import ct2_whisper, gguf_source

    path = Path(source).expanduser()
    if gguf_source.is_gguf_file(path):
        return "gguf", gguf_source.convert
    if ct2_whisper.is_ct2_whisper(path):
        return "ctranslate2", ct2_whisper.convert
    return None


def local_ref(ref: ModelRef) -> ModelRef:
    """``ref`` with a convertible source replaced by its converted directory; others unchanged."""
    found = converter(ref.source)
    if found is None:
        return ref
    directory = converted(Path(ref.source).expanduser().resolve(), *found)
    return ref.model_copy(update={"source": str(directory)})


def provenance(directory: Path) -> dict[str, Any]:
    """What a converted model's record says about its weights (the source and its format), from the
    marker of the directory ``local_ref`` gave."""
    return json.loads((directory / MARKER).read_text())["converted_from"]


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


@functools.lru_cache(maxsize=8)
def _sha256(path: Path, signature: tuple) -> str:
    digest = hashlib.sha256()
    for file in _files(path):
        digest.update(file.name.encode())
        with file.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def converted(path: Path, kind: str, convert: Callable[[Path, Path], dict[str, Any]]) -> Path:
    """The directory holding ``path`` converted (now, if not yet cached)."""
    import transformers

    signature = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in _files(path))
    sha = _sha256(path, signature)
    target = cache_root() / kind / f"{sha[:16]}-transformers-{transformers.__version__}"
    if (target / MARKER).is_file():
        return target
    print(f"honed: converting {path.name} ({kind}) to a transformers model once; kept in {target}", file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        facts = {"source": str(path), "format": kind, "sha256": sha, **convert(path, scratch)}
        marker = {"converted_from": facts, "transformers": transformers.__version__}
        (scratch / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        scratch.chmod(0o755)
        try:
            scratch.rename(target)  # atomic: a concurrent conversion that finished first wins
        except OSError:
            if not (target / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
