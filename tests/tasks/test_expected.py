"""Expected quality: the spec states what the base model should score; the run says whether it
reproduced it, before any recipe is judged."""

from __future__ import annotations

import pydantic
import pytest

from honed.core.errors import SpecError
from honed.core.protocol import ModelRef, RunSpec, TaskSpec
from honed.records.record import QualityResult
from honed.run.plan import plan_run
from honed.tasks.expected import against_expectation


@pytest.mark.parametrize("expect", [{"wer": 0.12}, {"wer": 0.12, "tolerance": -0.1}, {"tolerance": 0.1}])
def test_an_expectation_needs_a_metric_and_a_tolerance(expect):
    with pytest.raises(pydantic.ValidationError, match="tolerance"):
        TaskSpec(name="speech-recognition", expect=expect)


def test_an_expected_metric_the_task_does_not_measure_is_refused_before_any_worker(tiny_llama_dir):
    ref = ModelRef(kind="transformers", source=str(tiny_llama_dir))
    task = TaskSpec(name="language-modeling", expect={"accuracy": 0.5, "tolerance": 0.1})
    with pytest.raises(SpecError) as error:
        plan_run(ref, RunSpec(task=task))
    assert error.value.field == "task.expect" and "perplexity" in str(error.value)


def test_the_verdict_holds_every_metric_to_the_tolerance():
    quality = QualityResult(task="speech-recognition", values={"wer": 0.13, "cer": 0.05})
    near = against_expectation(quality, {"wer": 0.12, "cer": 0.05, "tolerance": 0.02})
    assert (
        near.reproduced
        and near.expected == "reproduced: wer 0.13 (expected 0.12 ± 0.02), cer 0.05 (expected 0.05 ± 0.02)"
    )
    far = against_expectation(quality, {"wer": 0.10, "tolerance": 0.02})
    assert far.reproduced is False and far.expected.startswith("not reproduced: wer 0.13")
    unmeasured = against_expectation(QualityResult(task="speech-recognition"), {"wer": 0.1, "tolerance": 1})
    assert unmeasured.reproduced is False and "wer not measured" in unmeasured.expected


def test_real_smollm2_reproduces_its_perplexity_on_the_shipped_text(smollm2_ref):
    """68.9 is what the dequantised fp32 model scores on the 36 shipped texts (any CPU: fp32); the
    worker judges it, and the terminal's quality table says so."""
    from rich.console import Console

    from honed.console.runs import quality_table
    from honed.core.protocol import TargetSpec
    from honed.run.evaluation import assess_quality

    task = TaskSpec(name="language-modeling", expect={"perplexity": 68.9, "tolerance": 1.0})
    quality = assess_quality(smollm2_ref, RunSpec(task=task, target=TargetSpec(device="cpu", measure_peaks=False)))
    assert quality.reproduced is True and quality.expected.startswith("reproduced: perplexity 68.")
    console = Console(width=200, record=True)
    console.print(quality_table(quality))
    shown = " ".join(console.export_text().split())
    assert "expected quality reproduced: perplexity 68." in shown and "(expected 68.9 ± 1)" in shown
