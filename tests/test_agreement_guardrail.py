"""The agreement guardrail on real models: a tune with no task guards on the base model's
outputs, and the fidelity floor catches what a saturated task lets through."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from honed.evaluation import assess_quality
from honed.protocol import InputSpec, ModelRef, TargetSpec, TaskSpec
from honed.tasks import AgreementTask
from honed.tuning.settings import Guardrail


def test_the_agreement_task_scores_a_model_against_reference_outputs():
    from honed.models import load_model

    handle = load_model(ModelRef(kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 8, "hidden": 16}}))
    task = AgreementTask(items=10)
    task.bind(InputSpec(shape=(8,)))
    from honed.tasks import evaluate_quality

    assert evaluate_quality(task, handle, 4).values["output_cosine"] == pytest.approx(1.0)  # itself
    task.set_reference_outputs(-task.outputs(handle, 4, None))
    assert evaluate_quality(task, handle, 4).values["output_cosine"] == pytest.approx(-1.0)


@pytest.mark.slow
def test_a_tune_with_no_task_keeps_bf16_and_rejects_a_ruinous_prune(tmp_path):
    env = {**os.environ, "HONED_STORE": f"sqlite:///{tmp_path / 'runs.db'}", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "honed.cli", "tune", "--model", "honed.zoo:mlp", "--kind", "factory",
                           "--shape", "256", "--repetitions", "1", "-c", "bf16", "-c", "magnitude-prune:amount=0.95",
                           "--max-steps", "1"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on agreement" in done.stderr
    lines = done.stdout.splitlines()
    prune = next(line for line in lines if "magnitude-prune" in line)
    assert "rejected" in prune and next(line for line in lines if line.lstrip("│ ").startswith("bf16"))


@pytest.mark.slow
def test_openvino_static_int8_on_minilm_keeps_recall_but_breaks_the_fidelity_floor(minilm_path):
    ref = ModelRef(kind="sentence-transformers", source=minilm_path)
    quality = assess_quality(ref, TaskSpec(name="text-embedding"), [{"algorithm": "openvino", "params": {"quantization": "int8"}}],
                             TargetSpec(device="cpu", measure_peaks=False), inputs=InputSpec(seq_len=32))
    assert quality.status == "ok", quality.error
    assert quality.values["recall_at_k"] >= 0.95  # the 24-pair task saturates ...
    assert Guardrail().below_floor(quality) is not None  # ... the floor does not
