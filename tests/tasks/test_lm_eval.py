"""lm-evaluation-harness as a task source: its tasks (prompts, data, metrics) score a honed handle
and give the numbers lm-eval's own Hugging Face model gives on the same model and items; local
data through lm-eval's own task YAMLs. On SmolLM2-135M (lm-eval's model needs a real tokenizer)."""

from __future__ import annotations

import json
import os

import pytest

from honed.core.errors import SpecError
from honed.core.protocol import TaskSpec
from honed.tasks import build_task, evaluate_quality

SHIPPED = os.path.join(os.path.dirname(__import__("honed.tasks").tasks.__file__), "data", "multiple_choice.jsonl")


def _tasks(folder):
    """Two local lm-eval tasks: honed's twelve shipped items as a plain multiple-choice task, and the
    same items in Hellaswag's own format under lm-eval's hellaswag.yaml (its prompt processing)."""
    import lm_eval

    folder.mkdir()
    (folder / "honed_mc.yaml").write_text(f"""task: honed_mc
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {SHIPPED}
validation_split: validation
output_type: multiple_choice
doc_to_text: "{{{{ctx}}}}"
doc_to_choice: "{{{{endings}}}}"
doc_to_target: label
metric_list:
  - metric: acc
  - metric: acc_norm
""")
    rows = [json.loads(line) for line in open(SHIPPED)]
    with open(folder / "hellaswag.jsonl", "w") as out:
        for row in rows:
            label, context = str(row["label"]), row["ctx"]
            document = {"activity_label": "Everyday life", "ctx_a": context, "ctx_b": "", "ctx": context}
            out.write(json.dumps({**document, "endings": row["endings"], "label": label}) + "\n")
    hellaswag = os.path.join(os.path.dirname(lm_eval.__file__), "tasks", "hellaswag", "hellaswag.yaml")
    (folder / "hellaswag_local.yaml").write_text(f"""include: {hellaswag}
task: hellaswag_local
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {folder / "hellaswag.jsonl"}
training_split: null
""")
    return folder


@pytest.mark.slow
def test_an_lm_eval_task_scores_a_handle_as_lm_evals_own_model_does(tmp_path, smollm2_ref):
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    from honed.models import load_model
    from honed.tasks.lm_eval_task import _task_manager

    folder = _tasks(tmp_path / "tasks")
    handle = load_model(smollm2_ref)
    reference = HFLM(pretrained=handle.module, tokenizer=handle.tokenizer, batch_size=1)
    scored = {}
    manager = _task_manager(str(folder))  # honed's own index of lm-eval's tasks (reading it takes 9 s): shared
    for name in ("honed_mc", "hellaswag_local"):
        task = build_task(TaskSpec(name="lm-eval", options={"task": name, "include_path": str(folder)}))
        quality = evaluate_quality(task, handle)
        theirs = lm_eval.simple_evaluate(model=reference, tasks=[name], task_manager=manager, bootstrap_iters=0)
        theirs = theirs["results"][name]
        assert quality.items == 12 and quality.primary == "acc_norm"
        assert quality.values == {"acc": theirs["acc,none"], "acc_norm": theirs["acc_norm,none"]}, name
        scored[name] = quality.values
    # honed's own offline multiple-choice task scores its twelve items as lm-eval does (equal here;
    # it tokenises context and ending apart, so a near tie may fall the other way on another CPU).
    own = evaluate_quality(build_task(TaskSpec(name="multiple-choice")), handle).values
    for mine, theirs in [("mc_accuracy", "acc"), ("mc_accuracy_norm", "acc_norm")]:
        assert own[mine] == pytest.approx(scored["honed_mc"][theirs], abs=1 / 12 + 1e-9)
    limited = build_task(
        TaskSpec(name="lm-eval", options={"task": "honed_mc", "include_path": str(folder), "limit": 4})
    )
    assert evaluate_quality(limited, handle).items == 4

    with pytest.raises(SpecError) as refused:
        unknown = {"task": "no_such_task", "include_path": str(folder)}  # the index read above
        evaluate_quality(build_task(TaskSpec(name="lm-eval", options=unknown)), handle)
    assert refused.value.field == "task.options.task"


def test_an_lm_eval_task_is_refused_naming_the_option_before_anything_loads():
    for options, field in [({}, "task.options.task"), ({"task": "hellaswag", "limit": 0}, "task.options.limit"),
                           ({"tasks": ["hellaswag"]}, "task.options")]:  # fmt: skip
        with pytest.raises(SpecError) as refused:
            build_task(TaskSpec(name="lm-eval", options=options))
        assert refused.value.field == field


def test_lm_eval_colon_a_task_is_short_for_the_lm_eval_task_with_that_option():
    from honed.core.validation import build
    from honed.spec.build import build_spec

    short = TaskSpec(name="lm-eval:hellaswag", options={"num_fewshot": 5})
    assert short.name == "lm-eval" and short.options == {"num_fewshot": 5, "task": "hellaswag"}
    given = build_spec(model="honed.zoo:mlp", kind="factory", task="lm-eval:arc_easy", task_limit=3)
    assert given.task.name == "lm-eval" and given.task.options == {"task": "arc_easy"} and given.task.limit == 3
    with pytest.raises(SpecError, match="name two lm-eval tasks"):
        build(TaskSpec, {"name": "lm-eval:arc_easy", "options": {"task": "hellaswag"}}, where="task")
