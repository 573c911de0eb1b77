"""The trust model (SECURITY.md): data never runs code, paths in data stay inside, JSON is bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from honed.core.errors import HonedError, SpecError, UntrustedCodeError
from honed.core.protocol import ModelRef
from honed.core.safe_json import MAX_JSON_DEPTH, read_json
from honed.models import load_model
from honed.models.manifest import MANIFEST
from honed.records.record import RunRecord

MLP = ModelRef(kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 4, "hidden": 8, "layers": 1}})


@pytest.fixture
def saved(tmp_path) -> Path:
    return load_model(MLP).save(tmp_path / "saved")


def _edit_manifest(directory: Path, **fields) -> None:
    path = directory / MANIFEST
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def test_a_manifest_naming_os_system_runs_nothing_and_says_why(saved, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _edit_manifest(saved, factory="os:system", kwargs={"command": "touch pwned"})
    with pytest.raises(UntrustedCodeError, match="'os:system', which is code.*--trust-code"):
        load_model(ModelRef(kind="honed", source=str(saved)))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_the_manifest_attack_through_the_cli_exits_2_before_any_worker(saved, tmp_path):
    marker = tmp_path / "pwned"
    _edit_manifest(saved, factory="os:system", kwargs={"command": f"touch {marker}"})
    env = {**os.environ, "HONED_STORE": f"sqlite:///{tmp_path / 'runs.db'}"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "honed.cli",
            "evaluate",
            "--model",
            str(saved),
            "--kind",
            "honed",
            "--shape",
            "4",
            "--repetitions",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "which is code" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()


def test_trust_code_lets_the_user_vouch_for_a_factory(saved, tmp_path):
    # A factory outside honed's zoo, named by the manifest: refused, then allowed when trusted.
    _edit_manifest(saved, factory="torch.nn:Linear", kwargs={"in_features": 4, "out_features": 4})
    (saved / "model.safetensors").unlink()
    import torch
    from safetensors.torch import save_model

    save_model(torch.nn.Linear(4, 4), str(saved / "model.safetensors"))
    with pytest.raises(UntrustedCodeError):
        load_model(ModelRef(kind="honed", source=str(saved)))
    handle = load_model(ModelRef(kind="honed", source=str(saved), trust_code=True))
    assert isinstance(handle.module, torch.nn.Linear)


def test_a_task_module_named_by_a_manifest_is_not_imported(saved, tmp_path, monkeypatch):
    (tmp_path / "evil_task.py").write_text("open(__file__ + '.ran', 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _edit_manifest(
        saved, recipe=[{"algorithm": "bf16"}], recipe_task={"name": "image-classification", "module": "evil_task"}
    )
    with pytest.raises(UntrustedCodeError, match="'evil_task'"):
        load_model(ModelRef(kind="honed", source=str(saved)))
    assert not (tmp_path / "evil_task.py.ran").exists()


@pytest.mark.parametrize("files", [["../outside.safetensors"], ["/etc/passwd"], [""], "model.safetensors"])
def test_manifest_paths_cannot_leave_the_model_directory(saved, files):
    _edit_manifest(saved, files=files)
    with pytest.raises(SpecError, match="files"):
        load_model(ModelRef(kind="honed", source=str(saved)))


def test_a_link_out_of_the_model_directory_is_refused(saved, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    (saved / "model.safetensors").rename(outside)
    (saved / "model.safetensors").symlink_to(outside)
    with pytest.raises(UntrustedCodeError, match="outside the model directory"):
        load_model(ModelRef(kind="honed", source=str(saved)))


def test_onnx_external_data_outside_the_model_directory_is_refused(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((2, 2), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [weight],
    )
    model = helper.make_model(graph)
    (tmp_path / "secret.bin").write_bytes(np.ones((2, 2), np.float32).tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "16")):
        weight.external_data.add(key=key, value=value)
    onnx.save_model(model, str(folder / "model.onnx"))
    with pytest.raises(SpecError, match="external data location.*'../secret.bin'"):
        load_model(ModelRef(kind="onnx", source=str(folder / "model.onnx")))


def test_transformers_remote_code_is_off_unless_trusted(tmp_path, tiny_bert_dir):
    import shutil

    model_dir = tmp_path / "custom"
    shutil.copytree(tiny_bert_dir, model_dir)
    (model_dir / "modeling_evil.py").write_text(
        "open(__file__ + '.ran', 'w').close()\nfrom transformers import BertModel as EvilModel\n"
    )
    config = json.loads((model_dir / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (model_dir / "config.json").write_text(json.dumps(config))
    handle = load_model(ModelRef(kind="transformers", source=str(model_dir)))  # the built-in BertModel, no code run
    assert type(handle.module).__module__.startswith("transformers.")
    assert not list(tmp_path.rglob("*.ran"))


def test_json_documents_are_bounded_before_parsing():
    with pytest.raises(SpecError, match="nesting depth 100000"):
        read_json("[" * 100_000 + "]" * 100_000, "doc", max_bytes=1 << 20)
    with pytest.raises(SpecError, match="at most 10 bytes"):
        read_json('{"a": "0123456789"}', "doc", max_bytes=10)
    assert read_json('{"a": "[[[[" }', "doc", max_bytes=100) == {"a": "[[[["}  # brackets in strings do not nest
    assert read_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "doc", 1000) is not None


def test_a_deeply_nested_or_huge_record_import_is_refused_cleanly():
    with pytest.raises(HonedError):
        RunRecord.from_json('{"schema": "honed.run", "version": 1, "record": ' + "[" * 50_000 + "]" * 50_000 + "}")
