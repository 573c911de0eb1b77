"""Pre-flight: what a saved Hugging Face model's config says is used, and a bad spec fails in
the parent, in seconds, with exit code 2, before any worker starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from honed.core.protocol import InputSpec, ModelRef, RunSpec
from honed.models import load_model
from honed.run.plan import plan_run


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=5,
    )
    path = tmp_path_factory.mktemp("vit") / "vit"
    ViTForImageClassification(config).save_pretrained(path)
    return path


def _save_gpt2(directory, minilm_path, model_class):
    """A one-layer GPT-2 architecture (random weights) saved with MiniLM's tokenizer."""
    from transformers import AutoTokenizer, GPT2Config

    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    model_class(
        GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=64, n_embd=32, n_layer=1, n_head=2)
    ).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, minilm_path):
    from transformers import GPT2LMHeadModel

    return _save_gpt2(tmp_path_factory.mktemp("gpt2") / "gpt2", minilm_path, GPT2LMHeadModel)


def test_a_vit_takes_its_input_shape_and_head_from_its_config(tiny_vit):
    handle = load_model(ModelRef(kind="transformers", source=str(tiny_vit)))
    assert type(handle.module).__name__ == "ViTForImageClassification"
    batch = handle.example_inputs(2, InputSpec(), seed=0)
    assert tuple(batch["pixel_values"].shape) == (2, 3, 32, 32)
    assert handle.run(batch).main.shape[-1] == 5  # the classifier head's logits


def test_a_gpt2_is_loaded_as_a_causal_lm_without_options(tiny_gpt2):
    handle = load_model(ModelRef(kind="transformers", source=str(tiny_gpt2)))
    assert hasattr(handle.module, "generate") and type(handle.module).__name__ == "GPT2LMHeadModel"


def _cli(*args, tmp_path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "HONED_STORE": f"sqlite:///{tmp_path / 'runs.db'}"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "honed.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )
    return done, time.monotonic() - started


@pytest.mark.slow
def test_a_saved_vit_and_gpt2_run_with_no_extra_options(tiny_vit, tiny_gpt2, tmp_path):
    vit, _ = _cli(
        "evaluate", "--model", str(tiny_vit), "--kind", "transformers", "--repetitions", "1", tmp_path=tmp_path
    )
    assert vit.returncode == 0, vit.stdout + vit.stderr
    lm, _ = _cli(
        "evaluate",
        "--model",
        str(tiny_gpt2),
        "--kind",
        "transformers",
        "--repetitions",
        "1",
        "--task",
        "language-modeling",
        "--task-limit",
        "4",
        tmp_path=tmp_path,
    )
    assert lm.returncode == 0, lm.stdout + lm.stderr
    assert "perplexity" in lm.stdout


@pytest.mark.slow
def test_a_bad_spec_fails_in_the_parent_within_seconds(tiny_vit, tmp_path):
    for args in (
        ["--model", "honed.zoo:nothing", "--kind", "factory"],
        ["--model", "honed.zoo:mlp", "--kind", "factory", "-r", "bf61"],
        ["--model", str(tiny_vit), "--kind", "transformers", "--task", "no-such-task"],
        ["--model", str(tmp_path / "missing"), "--kind", "transformers"],
    ):
        done, seconds = _cli("evaluate", *args, tmp_path=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert seconds < 5 * 3  # generous on a loaded CI machine; alone it takes about 2 s
        assert "error:" in done.stderr and "worker" not in done.stdout


@pytest.fixture(scope="module")
def tiny_bare_gpt2(tmp_path_factory, minilm_path):
    """A GPT-2 body without its language-model head: it cannot score next tokens."""
    from transformers import GPT2Model

    return _save_gpt2(tmp_path_factory.mktemp("gpt2-body") / "gpt2-body", minilm_path, GPT2Model)


def test_capabilities_read_from_the_files_match_the_loaded_model(tiny_gpt2, tiny_bare_gpt2, tiny_vit):
    from honed.models.capabilities import Capability
    from honed.models.transformers_model import TransformersHandle

    for path in (tiny_gpt2, tiny_bare_gpt2, tiny_vit):
        ref = ModelRef(kind="transformers", source=str(path))
        assert TransformersHandle.static_capabilities(ref) == load_model(ref).capabilities, path.name
    assert Capability.SCORES_TOKENS in load_model(ModelRef(kind="transformers", source=str(tiny_gpt2))).capabilities
    assert load_model(ModelRef(kind="transformers", source=str(tiny_bare_gpt2))).capabilities == {Capability.TOKENIZES}
    assert load_model(ModelRef(kind="transformers", source=str(tiny_vit))).capabilities == frozenset()


def test_a_task_the_model_cannot_run_is_refused_before_any_worker(tiny_bare_gpt2, tiny_gpt2):
    from honed.core.errors import SpecError
    from honed.core.protocol import TargetSpec, TaskSpec

    cpu, lm = TargetSpec(device="cpu"), TaskSpec(name="language-modeling")
    with pytest.raises(SpecError, match="scores next tokens") as refused:
        plan_run(ModelRef(kind="transformers", source=str(tiny_bare_gpt2)), RunSpec(target=cpu, task=lm))
    assert refused.value.field == "task" and "scores-tokens" in str(refused.value)
    assert plan_run(ModelRef(kind="transformers", source=str(tiny_gpt2)), RunSpec(target=cpu, task=lm)).task == lm
    with pytest.raises(SpecError, match="lacks: scores-tokens"):  # an export keeps the tokenizer, not the LM head
        plan_run(
            ModelRef(kind="transformers", source=str(tiny_gpt2)), RunSpec(target=cpu, recipe=["onnxruntime"], task=lm)
        )
    with pytest.raises(SpecError, match="tokenizer"):  # text embeddings of a model that takes tensors
        plan_run(
            ModelRef(kind="factory", source="honed.zoo:mlp"),
            RunSpec(inputs=InputSpec(shape=(64,)), target=cpu, task=TaskSpec(name="text-embedding")),
        )


def test_tune_skips_candidates_that_cannot_run_the_task_and_says_why(tiny_gpt2):
    from honed.core.protocol import TargetSpec, TaskSpec
    from honed.tuning.plan import plan_sweep
    from honed.tuning.settings import TuneSettings

    settings = TuneSettings(candidates=("bf16", "onnxruntime", "openvino", "llama-cpp"))
    sweep = plan_sweep(
        ModelRef(kind="transformers", source=str(tiny_gpt2)),
        RunSpec(task=TaskSpec(name="language-modeling"), target=TargetSpec(device="cpu")),
        settings,
    )
    # OpenVINO's stateful decoder and llama.cpp still score tokens; an ONNX export does not.
    assert sorted(recipe.label for recipe in sweep.candidates) == ["bf16", "llama-cpp", "openvino"]
    assert "scores next tokens" in sweep.skipped["onnxruntime"]


def test_a_speech_task_may_follow_an_export_that_still_transcribes(tiny_whisper_dir):
    from honed.core.errors import SpecError
    from honed.core.protocol import TargetSpec, TaskSpec

    ref, cpu = ModelRef(kind="transformers", source=str(tiny_whisper_dir)), TargetSpec(device="cpu")
    speech = TaskSpec(name="speech-recognition")
    assert plan_run(ref, RunSpec(target=cpu, recipe=["openvino"], task=speech)).task == speech  # encoder + decoder
    with pytest.raises(SpecError, match="lacks: transcribes"):
        plan_run(ref, RunSpec(target=cpu, recipe=["onnxruntime"], task=speech))


def test_a_refused_task_exits_2_in_seconds_from_the_cli(tiny_bare_gpt2, tmp_path):
    done, seconds = _cli(
        "evaluate",
        "--model",
        str(tiny_bare_gpt2),
        "--kind",
        "transformers",
        "--task",
        "language-modeling",
        tmp_path=tmp_path,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: task: got 'language-modeling'" in done.stderr and "scores next tokens" in done.stderr
    assert seconds < 5 * 3  # generous on a loaded CI machine; alone it takes a few seconds
