"""Quality inside a run: a task in the spec is scored in a worker process and kept in the record."""

from __future__ import annotations

import pytest
from conftest import FAST

from honed.compare import compare
from honed.errors import SpecError, UnknownNameError
from honed.evaluate import assess_quality, evaluate
from honed.models import load_model
from honed.optimize import optimize
from honed.protocol import InputSpec, Protocol, TargetSpec, TaskSpec
from honed.record import RunRecord
from honed.tasks import TASKS, ImageClassificationTask, build_task, evaluate_quality

INPUTS = InputSpec(shape=(1, 8, 8))
ONE = Protocol(**FAST, repetitions=1)
DIGITS = TaskSpec(name="image-classification")


def test_a_run_with_a_task_scores_the_same_quality_as_in_process(digits_cnn):
    record = evaluate(digits_cnn, ONE, INPUTS, TargetSpec(device="cpu", measure_peaks=False), task=DIGITS,
                      recipe=["dynamic-int8"])
    assert record.status == "ok" and record.task == "image-classification" and record.task_spec == DIGITS
    quality = record.quality
    local = evaluate_quality(ImageClassificationTask.digits("test"), optimize(load_model(digits_cnn), ["dynamic-int8"], "cpu", INPUTS))
    assert quality.items == 540 and quality.primary == "top1" and quality.better == {"top1": "higher", "top5": "higher"}
    assert quality.values["top1"] == pytest.approx(local.values["top1"]) and quality.values["top1"] > 0.9
    # With a recipe, the worker also compares the optimised outputs with the base model's.
    assert quality.agreement["top1_agreement"] > 0.97 and quality.agreement["output_cosine"] > 0.99
    assert RunRecord.from_json(record.to_json()).quality == quality  # survives export/import


def test_compare_reports_a_quality_loss_as_a_regression(digits_cnn):
    target = TargetSpec(device="cpu", measure_peaks=False)
    base = evaluate(digits_cnn, ONE, INPUTS, target, task=DIGITS)
    crushed = evaluate(digits_cnn, ONE, INPUTS, target, task=DIGITS,
                       recipe=[{"algorithm": "magnitude-prune", "params": {"amount": 0.9}}])
    assert base.quality.agreement == {}  # no recipe, nothing to agree with
    result = compare(base, crushed)
    top1 = next(q for q in result.quality if q.metric == "top1")
    assert top1.verdict == "worse" and top1.b < top1.a - 0.1
    assert top1 in result.quality_regressions


def test_the_quick_screen_scores_only_the_first_items(digits_cnn):
    screen = assess_quality(digits_cnn, DIGITS.model_copy(update={"limit": 50}), target=TargetSpec(device="cpu"))
    assert screen.status == "ok" and screen.items == 50


def test_a_task_the_model_cannot_do_fails_the_quality_part_only(digits_cnn):
    record = evaluate(digits_cnn, ONE, INPUTS, TargetSpec(device="cpu", measure_peaks=False),
                      task=TaskSpec(name="multiple-choice"))
    assert record.status == "partial" and record.results[0].latency_ms is not None
    assert record.quality.status == "error" and "causal language model" in record.quality.error


def test_bad_task_names_and_options_fail_before_any_worker(digits_cnn):
    with pytest.raises(UnknownNameError, match="image-classification"):
        evaluate(digits_cnn, ONE, INPUTS, task=TaskSpec(name="image-clasification"))
    with pytest.raises(SpecError, match="task.options.*split"):
        build_task(TaskSpec(name="image-classification", options={"splt": "train"}))
    assert set(TASKS.names()) >= {"image-classification", "text-embedding", "multiple-choice", "semantic-segmentation"}
