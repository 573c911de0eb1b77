"""What a runtime step built (a converted graph, a quantized GGUF file), kept for the other worker
processes of the same run: they replay the same recipe on the same model and inputs, so the first
one converts and the rest read its files. A whisper-small conversion costs ~35 s and a 1B int4
compression minutes, each paid by every timing and quality worker before this.

The files are moved, not linked (onnx refuses hard-linked external data), and every worker, the
converting one too, then runs them from the run's directory. A step's directory appears whole or
not at all (written beside it, then renamed), so a worker killed while keeping leaves nothing
half-read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

_NOTE = "kept.json"


def keep(directory: Path | None, source: Path, files: list[str], note: dict[str, Any]) -> Path:
    """``files`` of ``source`` moved into ``directory`` with ``note`` (JSON); returns where the
    files are now (still ``source`` without a directory)."""
    if directory is None:
        return source
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in files:
        shutil.move(source / name, partial / name)
    (partial / _NOTE).write_text(json.dumps(note))
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    return directory


def reuse(directory: Path | None) -> dict[str, Any] | None:
    """The note an earlier worker of the run kept with its files in ``directory``; None when
    nothing was kept there."""
    if directory is None or not (directory / _NOTE).is_file():
        return None
    return json.loads((directory / _NOTE).read_text())
