"""The agreement guardrail on real models: a tune with no task guards on the base model's
outputs, and the fidelity floor catches what a saturated task lets through."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from honed.core.protocol import InputSpec, ModelRef, RunSpec, TargetSpec, TaskSpec
from honed.run.evaluation import assess_quality
from honed.tasks import AgreementTask
from honed.tuning.settings import Guardrail


def test_the_agreement_task_scores_a_model_against_reference_outputs():
    from honed.models import load_model

    handle = load_model(
        ModelRef(kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 8, "hidden": 16}})
    )
    task = AgreementTask(items=10)
    task.bind(InputSpec(shape=(8,)))
    from honed.tasks import evaluate_quality

    assert evaluate_quality(task, handle, 4).values["output_cosine"] == pytest.approx(1.0)  # itself
    task.set_reference_outputs(-task.outputs(handle, 4, None))
    assert evaluate_quality(task, handle, 4).values["output_cosine"] == pytest.approx(-1.0)


@pytest.mark.slow
def test_a_tune_with_no_task_keeps_bf16_and_rejects_a_ruinous_prune(tmp_path):
    env = {**os.environ, "HONED_STORE": f"sqlite:///{tmp_path / 'runs.db'}", "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "honed.cli",
            "tune",
            "--model",
            "honed.zoo:mlp",
            "--kind",
            "factory",
            "--shape",
            "256",
            "--repetitions",
            "1",
            "-c",
            "bf16",
            "-c",
            "magnitude-prune:amount=0.95",
            "--max-steps",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on agreement" in done.stderr
    lines = done.stdout.splitlines()
    prune = next(line for line in lines if "magnitude-prune" in line)
    assert "rejected" in prune and next(line for line in lines if line.lstrip("│ ").startswith("bf16"))


@pytest.mark.slow
def test_openvino_static_int8_on_minilm_keeps_recall_but_breaks_the_fidelity_floor(minilm_path):
    ref = ModelRef(kind="sentence-transformers", source=minilm_path)
    quality = assess_quality(
        ref,
        RunSpec(
            task=TaskSpec(name="text-embedding"),
            recipe=({"algorithm": "openvino", "params": {"quantization": "int8"}},),
            target=CPU,
            inputs=InputSpec(seq_len=32),
        ),
    )
    assert quality.status == "ok", quality.error
    assert quality.values["recall_at_k"] >= 0.95  # the 24-pair task saturates ...
    assert Guardrail().below_floor(quality) is not None  # ... the floor does not


MLP = ModelRef(kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 8, "hidden": 16}})
CPU = TargetSpec(device="cpu", measure_peaks=False)


def test_agreement_runs_on_the_items_a_user_points_to(tmp_path):
    import numpy as np

    items = tmp_path / "items.npy"
    np.save(items, np.random.default_rng(0).standard_normal((7, 8)).astype(np.float32))
    task = TaskSpec(name="agreement", options={"inputs": str(items)})
    quality = assess_quality(MLP, RunSpec(task=task, recipe=("bf16",), target=CPU, inputs=InputSpec(shape=(8,))))
    assert quality.status == "ok", quality.error
    assert quality.items == 7  # the file's items, not the 64 synthetic ones
    assert 0.99 < quality.values["output_cosine"] < 1.0  # bf16 moved the outputs a little


def test_calibration_under_the_agreement_task_uses_synthetic_inputs():
    """Static quantization calibrates through Context.batch; under agreement it once raised
    NotImplementedError, so a tune with no task could not try static int8 at all."""
    import torch

    from honed.core.protocol import AGREEMENT_TASK
    from honed.models import load_model
    from honed.optimization import Context

    handle = load_model(MLP)
    synthetic = Context(target="cpu", inputs=InputSpec(shape=(8,)), task=AGREEMENT_TASK)
    assert torch.equal(synthetic.batch(handle, 2, seed=0), handle.example_inputs(2, InputSpec(shape=(8,)), seed=0))


def test_calibration_under_the_agreement_task_uses_the_users_items(tmp_path):
    import numpy as np

    from honed.models import load_model
    from honed.optimization import Context

    items = np.arange(24, dtype=np.float32).reshape(3, 8)
    np.save(tmp_path / "items.npy", items)
    given = Context(
        target="cpu",
        inputs=InputSpec(shape=(8,)),
        task=TaskSpec(name="agreement", options={"inputs": str(tmp_path / "items.npy")}),
    )
    batch = given.batch(load_model(MLP), 2, seed=0)
    assert all(any(np.array_equal(row, item) for item in items) for row in batch.numpy())


def test_static_int8_runs_under_the_agreement_guardrail():
    quality = assess_quality(
        MLP,
        RunSpec(
            task=TaskSpec(name="agreement"),
            recipe=({"algorithm": "onnxruntime", "params": {"quantization": "static-int8"}},),
            target=CPU,
            inputs=InputSpec(shape=(8,)),
        ),
    )
    assert quality.status == "ok", quality.error
    assert quality.values["output_cosine"] > 0.9


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("items.csv", "1,2\n", "a .npy array"),
        ("items.jsonl", '{"text": "fine"}\n[1, 2]\n', "line 2"),
        ("items.txt", "\n  \n", "at least one non-empty line"),
        ("missing.npy", None, "an existing file"),
    ],
)
def test_bad_agreement_inputs_name_the_file_and_what_is_allowed(tmp_path, name, text, expected):
    from honed.core.errors import SpecError
    from honed.tasks.fidelity import load_inputs

    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(SpecError, match=expected) as refused:
        load_inputs(tmp_path / name)
    assert refused.value.field.startswith("task.options.inputs")


def test_a_pickled_npy_is_refused(tmp_path):
    import numpy as np

    from honed.core.errors import SpecError
    from honed.tasks.fidelity import load_inputs

    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SpecError, match="allow_pickle"):
        load_inputs(tmp_path / "objects.npy")


def test_agreement_inputs_from_the_command_line_become_the_agreement_task(tmp_path, monkeypatch):
    from honed.spec.build import build_spec

    monkeypatch.chdir(tmp_path)
    (tmp_path / "texts.txt").write_text("a sentence\n")
    spec = build_spec(model="honed.zoo:mlp", kind="factory", agreement_inputs="texts.txt")
    assert spec.task.name == "agreement" and spec.task.options["inputs"] == str(tmp_path / "texts.txt")


def test_agreement_inputs_with_another_task_are_refused(tmp_path):
    from honed.core.errors import SpecError
    from honed.spec.build import build_spec

    (tmp_path / "texts.txt").write_text("a sentence\n")
    with pytest.raises(SpecError, match="--agreement-inputs"):
        build_spec(
            model="honed.zoo:mlp", kind="factory", task="text-embedding", agreement_inputs=str(tmp_path / "texts.txt")
        )


def test_agreement_inputs_in_a_spec_are_relative_to_the_spec_file(tmp_path):
    from honed.spec.build import load_spec

    (tmp_path / "texts.txt").write_text("a sentence\n")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "run.toml").write_text(
        '[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n'
        '[task]\nname = "agreement"\noptions = { inputs = "../texts.txt" }\n'
    )
    assert load_spec(tmp_path / "specs" / "run.toml").task.options["inputs"] == str(tmp_path / "texts.txt")


@pytest.mark.slow
def test_agreement_on_a_users_texts_with_a_text_model(minilm_path, tmp_path):
    (tmp_path / "texts.txt").write_text("The cat sat on the mat.\nQuantized models run faster.\nA third line.\n")
    task = TaskSpec(name="agreement", options={"inputs": str(tmp_path / "texts.txt")})
    quality = assess_quality(
        ModelRef(kind="sentence-transformers", source=minilm_path),
        RunSpec(task=task, recipe=("bf16",), target=CPU, inputs=InputSpec(seq_len=16)),
    )
    assert quality.status == "ok", quality.error
    assert quality.items == 3 and quality.values["output_cosine"] > 0.99


def test_the_guardrail_bounds_kl_where_the_task_measures_it():
    from honed.records.record import QualityResult

    def judged(agreement: dict) -> QualityResult:
        return QualityResult(task="language-modeling", values={"perplexity": 10.0}, agreement=agreement)

    bounded = Guardrail(max_kl=0.01)
    assert bounded.below_floor(judged({"top1_agreement": 0.94, "logits_kl": 0.006})) is None
    assert "above the guardrail's max_kl 0.01" in bounded.below_floor(judged({"logits_kl": 0.47}))
    assert "needs logits_kl" in bounded.below_floor(judged({"top1_agreement": 0.9}))  # not measured: not passed
    assert Guardrail().below_floor(judged({"logits_kl": 0.47})) is None  # no bound given: none applied
    assert "mean KL from the base <= 0.01" in bounded.describe("perplexity")
