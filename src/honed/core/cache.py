"""Where honed keeps what it derives once and reuses (dequantised GGUF models, joined model files):
``$HONED_CACHE``, else ``$XDG_CACHE_HOME/honed``, else ``~/.cache/honed``. Safe to delete."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    if os.environ.get("HONED_CACHE"):
        return Path(os.environ["HONED_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "honed"
