"""Pre-flight: what a saved Hugging Face model's config says is used, and a bad spec fails in
the parent, in seconds, with exit code 2, before any worker starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from honed.models import load_model
from honed.protocol import InputSpec, ModelRef


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=64, num_labels=5)
    path = tmp_path_factory.mktemp("vit") / "vit"
    ViTForImageClassification(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, minilm_path):
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    path = tmp_path_factory.mktemp("gpt2") / "gpt2"
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    GPT2LMHeadModel(GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=64, n_embd=32, n_layer=1, n_head=2)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_a_vit_takes_its_input_shape_and_head_from_its_config(tiny_vit):
    handle = load_model(ModelRef(kind="transformers", source=str(tiny_vit)))
    assert type(handle.module).__name__ == "ViTForImageClassification"
    batch = handle.example_inputs(2, InputSpec(), seed=0)
    assert tuple(batch["pixel_values"].shape) == (2, 3, 32, 32)
    from honed.models.torch_common import main_output

    assert main_output(handle.run(batch)).shape[-1] == 5  # the classifier head's logits


def test_a_gpt2_is_loaded_as_a_causal_lm_without_options(tiny_gpt2):
    handle = load_model(ModelRef(kind="transformers", source=str(tiny_gpt2)))
    assert hasattr(handle.module, "generate") and type(handle.module).__name__ == "GPT2LMHeadModel"


def _cli(*args, tmp_path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "HONED_STORE": f"sqlite:///{tmp_path / 'runs.db'}"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "honed.cli", *args], capture_output=True, text=True, env=env, timeout=120)
    return done, time.monotonic() - started


@pytest.mark.slow
def test_a_saved_vit_and_gpt2_run_with_no_extra_options(tiny_vit, tiny_gpt2, tmp_path):
    vit, _ = _cli("evaluate", "--model", str(tiny_vit), "--kind", "transformers", "--repetitions", "1", tmp_path=tmp_path)
    assert vit.returncode == 0, vit.stdout + vit.stderr
    lm, _ = _cli("evaluate", "--model", str(tiny_gpt2), "--kind", "transformers", "--repetitions", "1",
                 "--task", "language-modeling", "--task-limit", "4", tmp_path=tmp_path)
    assert lm.returncode == 0, lm.stdout + lm.stderr
    assert "perplexity" in lm.stdout


@pytest.mark.slow
def test_a_bad_spec_fails_in_the_parent_within_seconds(tiny_vit, tmp_path):
    for args in (["--model", "honed.zoo:nothing", "--kind", "factory"],
                 ["--model", "honed.zoo:mlp", "--kind", "factory", "-r", "bf61"],
                 ["--model", str(tiny_vit), "--kind", "transformers", "--task", "no-such-task"],
                 ["--model", str(tmp_path / "missing"), "--kind", "transformers"]):
        done, seconds = _cli("evaluate", *args, tmp_path=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert seconds < 5 * 3  # generous on a loaded CI machine; alone it takes about 2 s
        assert "error:" in done.stderr and "worker" not in done.stdout
