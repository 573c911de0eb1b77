"""`pip install honed` without an extra: the commands that need none work, and what needs one
names it. Every extra's package is hidden from the command and its worker processes (a
sitecustomize on PYTHONPATH makes importing one fail as a missing package does), which is what a
venv with the core alone sees, without building one."""

from __future__ import annotations

import json

import pytest

from helpers import extras_packages, honed

HIDE = """
import importlib.abc, os, sys
_HIDDEN = set(os.environ["HONED_TEST_HIDDEN"].split(","))

class _Hidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in _HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, _Hidden())
"""


@pytest.fixture(scope="module")
def core_only(tmp_path_factory):
    """The environment of a command that sees only the core's packages."""
    import os

    site = tmp_path_factory.mktemp("core-only")
    (site / "sitecustomize.py").write_text(HIDE)
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "HONED_TEST_HIDDEN": ",".join(sorted(extras_packages()))}


def test_the_hiding_works(core_only, tmp_path):
    onnx = ["--model", "x.onnx", "--kind", "onnx"]
    done = honed("evaluate", *onnx, store=tmp_path / "s.db", env=core_only, check_code=2)
    assert "pip install 'honed[onnx]'" in done.stderr and "onnxruntime is not" in done.stderr


def test_the_core_lists_checks_and_tunes_with_pytorch_alone(core_only, tmp_path):
    store = tmp_path / "s.db"
    assert "honed" in honed("--version", store=store, env=core_only).stdout
    assert "text-embedding" in honed("tasks", store=store, env=core_only).stdout
    assert honed("doctor", store=store, env=core_only, check_code=None).returncode in (0, 7)  # 7: a check warns
    rows = {r["algorithm"]: r for r in json.loads(honed("algorithms", "--json", store=store, env=core_only).stdout)}
    assert rows["bf16"]["unavailable_here"] is None
    assert "pip install 'honed[openvino]'" in rows["openvino"]["unavailable_here"]
    assert "pip install 'honed[llm]'" in rows["llama-cpp"]["unavailable_here"]
    model = ["--model", "honed.zoo:mlp", "--kind", "factory", "--shape", "256"]
    plan = honed("tune", *model, "--dry-run", store=store, env=core_only)
    assert "bf16" in plan.stdout and "nothing was run" in plan.stdout
    assert "skipped onnxruntime" in plan.stderr and "pip install 'honed[onnx]'" in plan.stderr


@pytest.mark.slow
def test_the_core_evaluates_a_pytorch_model_in_its_workers(core_only, tmp_path):
    done = honed(
        "evaluate", "--model", "honed.zoo:mlp", "--kind", "factory", "--shape", "256", "--repetitions", "1",
        "-r", "bf16", store=tmp_path / "s.db", env=core_only,
    )  # fmt: skip
    assert "stored run" in done.stdout and "ModuleNotFoundError" not in done.stdout + done.stderr
