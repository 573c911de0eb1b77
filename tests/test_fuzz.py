"""Property-based tests of every input surface (spec files, command-line options, recipe strings,
JSON imports, manifests): each input either works or ends with exit code 2 and one line that
says why; never a traceback, never exit 1. Example counts come from the Hypothesis profile:
1,000 per surface in `make test`, fewer in `make test-fast` (see conftest.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honed.cli import main
from honed.core.protocol import ModelRef
from honed.models import load_model
from honed.models.manifest import MANIFEST

FIELDS = {
    "model": ["kind", "source", "options", "allow_pickle", "trust_code", "name"],
    "inputs": ["shape", "dtype", "seq_len", "audio_seconds", "source"],
    "protocol": [
        "scope",
        "new_tokens",
        "warmup_iterations",
        "min_samples",
        "min_seconds",
        "max_samples",
        "max_seconds",
        "batch_sizes",
        "repetitions",
        "timeout_seconds",
        "threads",
        "concurrency",
        "seed",
        "memory_limit_mib",
        "confidence",
        "bootstrap_resamples",
    ],
    "target": ["device", "price_per_hour", "measure_peaks"],
    "task": ["name", "options", "limit", "batch_size", "module"],
    "tune": ["objective", "candidates", "exclude", "max_steps", "max_trials", "patience", "screen_limit", "goal"],
}
KINDS = ["factory", "torch", "transformers", "sentence-transformers", "onnx", "openvino", "honed", "nope"]
SOURCES = [
    "honed.zoo:mlp",
    "honed.zoo:sleeper",
    "honed.zoo:nothing",
    "os:getcwd",
    "honed.zoo",
    ":x",
    "missing.onnx",
    "a/b/c",
]
NAMES = ["bf16", "fp16", "magnitude-prune", "dynamic-int8", "openvino", "onnxruntime", "torch-compile", "bf61", ""]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(KINDS + SOURCES + NAMES),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def run_cli(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["honed", *args]
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        sys.argv = argv
    return code, stdout.getvalue(), stderr.getvalue()


def assert_works_or_one_clear_error(code: int, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert code in (0, 2), f"exit {code}: {stdout}{stderr}"
    if code == 2:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    return json.dumps(value)


@st.composite
def spec_documents(draw) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(f"name = {toml_value(draw(st.text(max_size=10)))}")
    for section, fields in FIELDS.items():
        if not draw(st.booleans()):
            continue
        lines.append(f"[{section}]")
        chosen = draw(st.lists(st.sampled_from(fields + ["unknown_field"]), unique=True, max_size=5))
        if section == "model" and draw(st.booleans()):
            chosen = list(dict.fromkeys(["kind", "source", *chosen]))
        for field in chosen:
            value = draw(
                st.sampled_from(KINDS) if field == "kind" else st.sampled_from(SOURCES) if field == "source" else values
            )
            if value is not None:
                lines.append(f"{field} = {toml_value(value)}")
    text = "\n".join(lines)
    return draw(st.one_of(st.just(text), st.text(max_size=200)))


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(document=spec_documents())
def test_spec_files(tmp_path, document):
    path = tmp_path / "spec.toml"
    path.write_text(document)
    assert_works_or_one_clear_error(*run_cli("evaluate", "--dry-run", str(path)))


EVALUATE_OPTIONS = [
    "--model",
    "--kind",
    "--batch-size",
    "-b",
    "--repetitions",
    "--scope",
    "--new-tokens",
    "--threads",
    "--concurrency",
    "--device",
    "--seq-len",
    "--audio-seconds",
    "--shape",
    "--price-per-hour",
    "--recipe",
    "-r",
    "--task",
    "--task-limit",
    "--name",
    "--json",
    "--allow-pickle",
    "--trust-code",
    "--inputs-from-task",
    "--store",
    "--help",
]
tokens = st.one_of(
    st.sampled_from(EVALUATE_OPTIONS),
    st.sampled_from(KINDS + SOURCES + NAMES),
    st.integers(-5, 10**6).map(str),
    st.text(max_size=12),
).filter(lambda t: t != "--" and not t.lstrip("-").startswith(("dry", "no-dry")) and not t.startswith("--js"))


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=st.lists(tokens, max_size=8))
def test_command_line_options(argv):
    assert_works_or_one_clear_error(*run_cli("evaluate", "--dry-run", *argv))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    command=st.sampled_from(
        [["runs", "show"], ["runs", "list", "--model"], ["compare"], ["report"], ["runs", "export"]]
    ),
    words=st.lists(st.text(max_size=12).filter(lambda t: not t.startswith("-")), min_size=1, max_size=2),
)
@pytest.mark.slow
def test_store_commands_with_any_ids(tmp_path, monkeypatch, command, words):
    monkeypatch.setenv("HONED_STORE", f"sqlite:///{tmp_path / 'fuzz.db'}")
    assert_works_or_one_clear_error(*run_cli(*command, *words))


step_texts = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda name, pairs: name + (":" + ",".join(f"{k}={v}" for k, v in pairs) if pairs else ""),
        st.sampled_from(NAMES),
        st.lists(
            st.tuples(
                st.sampled_from(["amount", "precision", "quantization", "mode", "x", "", "steps"]),
                st.one_of(
                    st.text(max_size=8), st.integers().map(str), st.sampled_from(["bf16", "int8", "0.5", "[/]", "{}"])
                ),
            ),
            max_size=3,
        ),
    ),
)


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step_texts, min_size=1, max_size=3))
def test_recipe_strings(steps):
    recipe = [arg for step in steps for arg in ("-r", step)]
    assert_works_or_one_clear_error(
        *run_cli("evaluate", "--dry-run", "--model", "honed.zoo:mlp", "--kind", "factory", "--shape", "256", *recipe)
    )


@pytest.fixture(scope="module")
def valid_export(tmp_path_factory) -> dict:
    from helpers import noisy, synthetic_record

    return json.loads(synthetic_record([noisy(5, 20, 1)]).to_json())


def mutate(document, rng: random.Random, value):
    """Replace one randomly chosen node of a JSON document with ``value``, or delete it."""
    document = json.loads(json.dumps(document))
    node, path = document, []
    while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append((node, key))
        node = node[key]
    if not path:
        return value
    parent, key = path[-1]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[key]
    else:
        parent[key] = value
    return document


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), value=values, raw=st.one_of(st.none(), st.binary(max_size=100), values))
def test_json_imports(tmp_path, monkeypatch, valid_export, seed, value, raw):
    monkeypatch.setenv("HONED_STORE", f"sqlite:///{tmp_path / 'imports.db'}")
    path = tmp_path / "run.json"
    if raw is None:
        path.write_text(json.dumps(mutate(valid_export, random.Random(seed), value)))
    elif isinstance(raw, bytes):
        path.write_bytes(raw)
    else:
        path.write_text(json.dumps(raw))
    assert_works_or_one_clear_error(*run_cli("runs", "import", str(path)))


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    ref = ModelRef(
        kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 4, "hidden": 8, "layers": 1}}
    )
    return load_model(ref).save(tmp_path_factory.mktemp("manifest") / "saved")


@pytest.mark.slow
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), value=values)
def test_manifests(tmp_path, saved_model, seed, value):
    directory = tmp_path / "model"
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(saved_model, directory)
    manifest = json.loads((directory / MANIFEST).read_text())
    (directory / MANIFEST).write_text(json.dumps(mutate(manifest, random.Random(seed), value)))
    before = set(os.listdir(tmp_path))
    assert_works_or_one_clear_error(
        *run_cli("evaluate", "--dry-run", "--model", str(directory), "--kind", "honed", "--shape", "4")
    )
    code, out, err = _load(directory)
    assert_works_or_one_clear_error(code, out, err)
    assert set(os.listdir(tmp_path)) == before  # loading data wrote nothing beside it


def _load(directory: Path) -> tuple[int, str, str]:
    """Load in-process as the workers do: a HonedError is the one allowed failure."""
    from honed.core.errors import HonedError

    try:
        load_model(ModelRef(kind="honed", source=str(directory)))
    except HonedError as error:
        return 2, "", "error: " + " ".join(str(error).split())  # as the CLI prints it
    return 0, "", ""
