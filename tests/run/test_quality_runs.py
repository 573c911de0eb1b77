"""Quality inside a run: a task in the spec is scored in a worker process and kept in the record."""

from __future__ import annotations

import pytest
import torch

from helpers import FAST
from honed.core.errors import SpecError, UnknownNameError
from honed.core.protocol import InputSpec, Protocol, RunSpec, TargetSpec, TaskSpec
from honed.models import load_model
from honed.optimization import optimize
from honed.records.comparison import compare
from honed.records.record import RunRecord
from honed.run.evaluation import assess_quality, evaluate
from honed.tasks import TASKS, ImageClassificationTask, build_task, evaluate_quality
from honed.tasks.metrics import register_metric

INPUTS = InputSpec(shape=(1, 8, 8))
ONE = Protocol(**FAST, repetitions=1)
DIGITS = TaskSpec(name="image-classification")


@pytest.mark.slow
def test_a_run_with_a_task_scores_the_same_quality_as_in_process(digits_cnn):
    record = evaluate(
        digits_cnn, ONE, INPUTS, TargetSpec(device="cpu", measure_peaks=False), task=DIGITS, recipe=["dynamic-int8"]
    )
    assert record.status == "ok" and record.task == "image-classification" and record.task_spec == DIGITS
    quality = record.quality
    local = evaluate_quality(
        ImageClassificationTask.digits("test"), optimize(load_model(digits_cnn), ["dynamic-int8"], "cpu", INPUTS)
    )
    assert quality.items == 540 and quality.primary == "top1" and quality.better == {"top1": "higher", "top5": "higher"}
    assert quality.values["top1"] == pytest.approx(local.values["top1"]) and quality.values["top1"] > 0.9
    # With a recipe, the worker also compares the optimised outputs with the base model's.
    assert quality.agreement["top1_agreement"] > 0.97 and quality.agreement["output_cosine"] > 0.99
    assert quality.agreement_on == "output on 540 items of task image-classification"  # which output, which items
    assert RunRecord.from_json(record.to_json()).quality == quality  # survives export/import


@pytest.mark.slow
def test_recipes_replay_with_the_data_they_were_built_with(digits_cnn):
    from honed.tasks import agreement

    # Static int8 calibrates on the run's task (digit images) when given a recipe and a task,
    # but a handle optimised without a task keeps its synthetic calibration in every worker.
    recipe = [{"algorithm": "onnxruntime", "params": {"quantization": "static-int8", "calibration_batches": 4}}]
    base, test = load_model(digits_cnn), ImageClassificationTask.digits("test")
    local = {
        source: agreement(test, base, optimize(base, recipe, "cpu", INPUTS, task=spec))["logits_kl"]
        for source, spec in (("synthetic", None), ("task", DIGITS))
    }
    assert local["task"] != pytest.approx(local["synthetic"], rel=1e-3), local  # the calibration data matters
    target = TargetSpec(device="cpu", measure_peaks=False)
    with_recipe = evaluate(digits_cnn, ONE, INPUTS, target, task=DIGITS, recipe=recipe)
    handle = evaluate(optimize(base, recipe, "cpu", INPUTS), ONE, INPUTS, target, task=DIGITS)
    assert with_recipe.quality.agreement["logits_kl"] == pytest.approx(local["task"], rel=1e-4)
    assert handle.quality.agreement["logits_kl"] == pytest.approx(local["synthetic"], rel=1e-4)


@pytest.mark.slow
def test_compare_reports_a_quality_loss_as_a_regression(digits_cnn):
    target = TargetSpec(device="cpu", measure_peaks=False)
    base = evaluate(digits_cnn, ONE, INPUTS, target, task=DIGITS)
    crushed = evaluate(
        digits_cnn,
        ONE,
        INPUTS,
        target,
        task=DIGITS,
        recipe=[{"algorithm": "magnitude-prune", "params": {"amount": 0.9}}],
    )
    assert base.quality.agreement == {}  # no recipe, nothing to agree with
    result = compare(base, crushed)
    top1 = next(q for q in result.quality if q.metric == "top1")
    assert top1.verdict == "worse" and top1.b < top1.a - 0.1
    assert top1 in result.quality_regressions


@pytest.mark.slow
def test_the_quick_screen_scores_only_the_first_items(digits_cnn):
    spec = RunSpec(task=DIGITS.model_copy(update={"limit": 50}), target=TargetSpec(device="cpu"))
    screen = assess_quality(digits_cnn, spec)
    assert screen.status == "ok" and screen.items == 50


@pytest.mark.slow
def test_a_task_the_model_cannot_do_is_refused_before_any_worker(digits_cnn):
    """A factory CNN says what it can do without loading: multiple choice needs a causal LM."""
    with pytest.raises(SpecError, match="scores next tokens") as refused:
        evaluate(
            digits_cnn,
            ONE,
            INPUTS,
            TargetSpec(device="cpu", measure_peaks=False),
            task=TaskSpec(name="multiple-choice"),
        )
    assert refused.value.field == "task"


def test_a_task_found_unfit_only_in_the_worker_fails_the_quality_part_only(digits_cnn, tmp_path):
    """A saved directory is only known once loaded: the worker refuses, the timing still stands."""
    from honed.core.protocol import ModelRef

    saved = load_model(digits_cnn).save(tmp_path / "saved")
    record = evaluate(
        ModelRef(kind="honed", source=str(saved)),
        ONE,
        INPUTS,
        TargetSpec(device="cpu", measure_peaks=False),
        task=TaskSpec(name="multiple-choice"),
    )
    assert record.status == "partial" and record.results[0].latency_ms is not None
    assert record.quality.status == "error" and "causal language model" in record.quality.error


def test_bad_task_names_and_options_fail_before_any_worker(digits_cnn):
    with pytest.raises(UnknownNameError, match="image-classification"):
        evaluate(digits_cnn, ONE, INPUTS, task=TaskSpec(name="image-clasification"))
    with pytest.raises(SpecError, match="task.options.*split"):
        build_task(TaskSpec(name="image-classification", options={"splt": "train"}))
    assert set(TASKS.names()) >= {"image-classification", "text-embedding", "multiple-choice", "semantic-segmentation"}


@pytest.mark.slow
def test_a_whisper_run_measures_the_encoder_and_scores_transcripts(tiny_whisper_dir):
    from honed.core.protocol import ModelRef

    ref = ModelRef(
        kind="transformers", source=str(tiny_whisper_dir), options={"auto_class": "AutoModelForSpeechSeq2Seq"}
    )
    task = TaskSpec(name="speech-recognition", options={"max_new_tokens": 8}, limit=4, batch_size=2)
    record = evaluate(ref, ONE, InputSpec(source="task"), TargetSpec(device="cpu", measure_peaks=False), task=task)
    # Model scope on real utterances' features (padded to Whisper's 30 s) plus one decoder step.
    assert record.status == "ok" and record.results[0].latency_ms.p50 > 0, record.measurements[0].error
    assert record.quality.items == 4 and 0.0 <= record.quality.values["cer"] and record.quality.values["wer"] >= 0.0
    assert record.quality.timing["real_time_factor"] > 0 and record.quality.timing["audio_seconds"] > 4


@register_metric(
    "sum_abs_error", "lower", "units", "mean |sum of outputs - target| (a test's own metric)", "hand-written"
)
def _sum_abs_error(predictions, references) -> float:
    return (predictions.sum(dim=1) - references).abs().mean().item()


@TASKS.register("test-sums")
class SumsTask(ImageClassificationTask):
    """A task defined outside honed: regress the sum of four numbers (with its own metric)."""

    name = "test-sums"
    metrics = ("sum_abs_error",)
    primary = "sum_abs_error"
    agreement_metrics = ("output_cosine",)

    @classmethod
    def default(cls, count: int = 32) -> SumsTask:
        features = torch.randn(count, 4, generator=torch.Generator().manual_seed(0))
        return cls(features, features.sum(dim=1))


@pytest.mark.slow
def test_a_task_and_metric_defined_outside_honed_run_in_the_workers(tmp_path):
    from honed.core.protocol import ModelRef

    ref = ModelRef(
        kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 4, "hidden": 8, "layers": 1}}
    )
    spec = TaskSpec(name="test-sums")
    record = evaluate(
        ref,
        ONE,
        InputSpec(shape=(4,), source="task"),
        TargetSpec(device="cpu", measure_peaks=False),
        task=spec,
        recipe=["bf16"],
    )
    assert record.status == "ok" and record.task_spec.module == __name__  # the workers imported this module
    local = evaluate_quality(
        SumsTask.default(), optimize(load_model(ref, seed=0), ["bf16"], "cpu", InputSpec(shape=(4,)))
    )
    assert record.quality.values["sum_abs_error"] == pytest.approx(local.values["sum_abs_error"], rel=1e-3)
    assert record.quality.better == {"sum_abs_error": "lower"} and record.quality.agreement["output_cosine"] > 0.99


@pytest.mark.slow
def test_inputs_drawn_from_the_task_are_its_real_items(digits_cnn, minilm_path):
    from honed.core.protocol import ModelRef
    from honed.tasks import TextEmbeddingTask

    task = ImageClassificationTask.digits("test")
    images = task.sample(4, seed=0)
    assert images.shape == (4, 1, 8, 8) and all(any(torch.equal(i, x) for x in task.images) for i in images)
    assert torch.equal(task.sample(4, seed=0), images)  # seeded: every worker times the same items
    texts = TextEmbeddingTask.shipped().sample(3, seed=1)
    assert len(texts) == 3 and all(t in TextEmbeddingTask.shipped().queries for t in texts)
    target = TargetSpec(device="cpu", measure_peaks=False)
    record = evaluate(
        ModelRef(kind="sentence-transformers", source=minilm_path),
        ONE,
        InputSpec(source="task"),
        target,
        task=TaskSpec(name="text-embedding", limit=4),
    )
    assert record.status == "ok" and record.inputs.source == "task"
    with pytest.raises(SpecError, match="inputs.source"):
        evaluate(digits_cnn, ONE, InputSpec(source="task"), target)
