"""Every adapter: load, synthetic inputs, run, stats, FLOPs, save/reload with equal outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from honed.core.errors import ModelLoadError, SpecError, UnknownNameError, UnsafeFormatError
from honed.core.protocol import InputSpec, ModelRef
from honed.models import known_kinds, load_model
from honed.models.manifest import MANIFEST
from honed.models.persist import read_manifest


def _ref(kind: str, request) -> tuple[ModelRef, InputSpec]:
    if kind == "factory":
        return ModelRef(
            kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 16, "hidden": 32}}
        ), InputSpec(shape=(16,))
    if kind == "transformers":
        return ModelRef(kind="transformers", source=str(request.getfixturevalue("tiny_bert_dir"))), InputSpec(
            seq_len=12
        )
    if kind == "transformers-causal-lm":
        return (
            ModelRef(
                kind="transformers",
                source=str(request.getfixturevalue("tiny_llama_dir")),
                options={"auto_class": "AutoModelForCausalLM"},
            ),
            InputSpec(seq_len=12),
        )
    if kind == "sentence-transformers":
        return ModelRef(kind="sentence-transformers", source=request.getfixturevalue("minilm_path")), InputSpec(
            seq_len=12
        )
    if kind == "onnx":
        return ModelRef(kind="onnx", source=str(request.getfixturevalue("mlp_onnx"))), InputSpec()
    raise AssertionError(kind)


ADAPTER_CASES = ["factory", "transformers", "transformers-causal-lm", "sentence-transformers", "onnx"]


@pytest.mark.parametrize("case", ADAPTER_CASES)
def test_adapter_runs_reports_stats_and_round_trips(case, request, tmp_path):
    ref, inputs = _ref(case, request)
    handle = load_model(ref, "cpu", threads=1, seed=0)
    batch = handle.example_inputs(3, inputs, seed=0)
    with handle.inference_context():
        output = handle.run(batch).main.numpy()
    assert output.shape[0] == 3 and np.isfinite(output).all()

    stats = handle.stats()
    assert stats.parameters > 0 and stats.bytes_in_memory >= stats.parameters  # >= 1 byte per parameter
    assert stats.weights_sha256 and len(stats.weights_sha256) == 64

    saved = handle.save(tmp_path / "saved")
    manifest = read_manifest(saved)
    assert manifest["kind"] in known_kinds() and manifest["recipe"] == [] and "torch" in manifest["libraries"]
    reloaded = load_model(ModelRef(kind="honed", source=str(saved)), "cpu")
    with reloaded.inference_context():
        again = reloaded.run(batch).main.numpy()
    np.testing.assert_allclose(again, output, rtol=1e-5, atol=1e-6)
    assert reloaded.stats().parameters == stats.parameters


def test_a_transformers_model_loads_without_its_weights_as_it_loads_with_them(tiny_llama_dir, tmp_path):
    """What a runtime step that runs a kept conversion takes from its source: no weights read,
    the same classes, dtype, capabilities, tokenizer, generation config and synthetic inputs."""
    import shutil

    from transformers import GenerationConfig

    shutil.copytree(tiny_llama_dir, tmp_path, dirs_exist_ok=True)
    GenerationConfig(max_new_tokens=5, eos_token_id=3).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()  # the weights cannot be read: none is
    ref = ModelRef(
        kind="transformers", source=str(tmp_path), options={"auto_class": "AutoModelForCausalLM", "dtype": "bfloat16"}
    )
    structure = load_model(ref, "cpu", seed=0, weights=False)
    assert all(p.is_meta for p in structure.module.parameters()) and structure.module.dtype == torch.bfloat16
    assert type(structure.module).__name__ == "LlamaForCausalLM" and structure.tokenizer is not None
    assert structure.module.generation_config.max_new_tokens == 5
    full = load_model(ModelRef(kind="transformers", source=str(tiny_llama_dir), options=ref.options), "cpu", seed=0)
    assert structure.capabilities == full.capabilities
    inputs = InputSpec(seq_len=12)
    assert torch.equal(
        structure.example_inputs(2, inputs, 7)["input_ids"], full.example_inputs(2, inputs, 7)["input_ids"]
    )
    with pytest.raises(ModelLoadError):
        load_model(ref, "cpu")  # with its weights it cannot load: the structure read none


def test_flop_count_of_an_mlp_matches_hand_computation():
    ref = ModelRef(
        kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 8, "hidden": 16, "layers": 2}}
    )
    handle = load_model(ref, "cpu")
    batch = handle.example_inputs(4, InputSpec(shape=(8,)), seed=0)
    # Linear(8,16), Linear(16,16), Linear(16,8): 2 * batch * in * out each; GELU is not counted.
    assert handle.count_flops(batch) == 2 * 4 * (8 * 16 + 16 * 16 + 16 * 8)


def test_pipeline_scope_starts_from_raw_text(request):
    ref, inputs = _ref("sentence-transformers", request)
    handle = load_model(ref, "cpu")
    raw = handle.raw_inputs(2, inputs, seed=0)
    assert isinstance(raw, list) and all(isinstance(s, str) for s in raw)
    embeddings = handle.run_pipeline(raw)
    assert tuple(embeddings.shape) == (2, 384)
    with handle.inference_context():
        direct = handle.run(handle.example_inputs(2, inputs, seed=0)).main
    torch.testing.assert_close(embeddings, direct, rtol=1e-4, atol=1e-5)


def test_pickle_files_are_refused_unless_allowed(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(UnsafeFormatError, match="allow_pickle"):
        load_model(ModelRef(kind="torch", source=str(path)))
    handle = load_model(ModelRef(kind="torch", source=str(path), allow_pickle=True))
    assert handle.stats().parameters == 6


def test_safetensors_weights_load_into_a_factory_architecture(tmp_path):
    from safetensors.torch import save_model

    from honed.zoo import mlp

    module = mlp(features=4, hidden=8, layers=1)
    save_model(module, str(tmp_path / "w.safetensors"))
    ref = ModelRef(
        kind="torch",
        source=str(tmp_path / "w.safetensors"),
        options={"factory": "honed.zoo:mlp", "kwargs": {"features": 4, "hidden": 8, "layers": 1}},
    )
    handle = load_model(ref)
    x = torch.randn(2, 4)
    torch.testing.assert_close(handle.run(x).main, module(x))
    with pytest.raises(SpecError, match="options.factory"):
        load_model(ModelRef(kind="torch", source=str(tmp_path / "w.safetensors")))


def test_bad_sources_and_kinds_give_actionable_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        load_model(ModelRef(kind="torch", source=str(tmp_path / "missing.safetensors")))
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(ModelRef(kind="transformers", source=str(tmp_path)))
    with pytest.raises(UnknownNameError, match="did you mean 'onnx'"):
        load_model(ModelRef(kind="onx", source="x"))
    with pytest.raises(ModelLoadError, match=MANIFEST):
        load_model(ModelRef(kind="honed", source=str(tmp_path)))
    with pytest.raises(SpecError, match="inputs.shape"):
        load_model(ModelRef(kind="factory", source="honed.zoo:mlp")).example_inputs(1, InputSpec(), 0)
