"""A tune whose candidates learn from the task's items holds a share of them out of its scoring:
no recipe is judged on the items it calibrated or trained on."""

from __future__ import annotations

from helpers import honed
from honed.core.protocol import ModelRef, RunSpec, Step, TaskSpec
from honed.tasks import build_task
from honed.tuning import TuneSettings
from honed.tuning.plan import plan_sweep


def _plan(model: ModelRef, task: TaskSpec, **settings):
    return plan_sweep(model, RunSpec(task=task), TuneSettings(**settings))


def test_a_tune_whose_candidates_calibrate_holds_a_quarter_of_the_items_out(minilm_path):
    encoder = ModelRef(source=minilm_path, kind="sentence-transformers")
    pairs = TaskSpec(name="text-embedding")
    count = build_task(pairs).item_count
    kept = round(count * 0.25)
    # The default tune of a text encoder tries OpenVINO's int8-mixed, which calibrates on the items.
    default = _plan(encoder, pairs)
    assert default.run.task.options == {"calibration": kept}
    assert f"the first {kept} of the task's {count} items are held out" in default.held_out
    assert "(layer-distill, openvino learn from them)" in default.held_out
    assert f"judged on the other {count - kept}" in default.held_out
    split = build_task(default.run.task)
    assert split.item_count == count - kept and split.calibration_part.item_count == kept
    # Static int8 named with its parameter learns; dynamic int8 and bf16 learn nothing.
    static = _plan(encoder, pairs, candidates=(Step.parse("onnxruntime:quantization=static-int8"),))
    assert static.run.task.options == {"calibration": kept}
    nothing = _plan(encoder, pairs, candidates=("bf16", Step.parse("onnxruntime:quantization=dynamic-int8")))
    assert nothing.run.task == pairs and nothing.held_out is None
    # A knob search may reach static int8 from ONNX Runtime's defaults: it holds out too.
    assert _plan(encoder, pairs, candidates=("onnxruntime",), search="tpe").run.task.options == {"calibration": kept}
    # The user's split, or hold_out 0, is left as it is.
    theirs = pairs.model_copy(update={"options": {"calibration": 3}})
    assert _plan(encoder, theirs).run.task == theirs
    assert _plan(encoder, pairs, hold_out=0).run.task == pairs


def test_items_that_are_no_model_inputs_are_not_held_out(tiny_llama_dir, tmp_path):
    """Language modelling scores texts that calibration never draws (it takes synthetic inputs)."""
    llm = ModelRef(source=str(tiny_llama_dir), kind="transformers")
    plan = _plan(llm, TaskSpec(name="language-modeling"), candidates=("openvino", "layer-distill"))
    assert plan.held_out is None and "calibration" not in plan.run.task.options


def test_the_pre_flight_says_which_items_are_held_out(minilm_path, tmp_path):
    done = honed(
        "tune", "--model", minilm_path, "--kind", "sentence-transformers", "--task", "text-embedding",
        "-c", "layer-distill", "--dry-run", store=tmp_path / "runs.db",
    )  # fmt: skip
    assert "items are held out for calibration and training (layer-distill learns from them)" in done.stdout
