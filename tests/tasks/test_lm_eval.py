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


def _local(folder, shipped: str, task: str, split: str, data, more: str = "") -> None:
    """lm-eval's own ``shipped`` task (its prompts, its metrics) as ``task`` on a local JSON file."""
    import lm_eval

    config = os.path.join(os.path.dirname(lm_eval.__file__), "tasks", shipped, f"{shipped}.yaml")
    (folder / f"{task}.yaml").write_text(
        f"include: {config}\ntask: {task}\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    {split}: {data}\ntraining_split: null\n{more}"
    )


def _tasks(folder):
    """Two local lm-eval tasks: honed's twelve shipped items as a plain multiple-choice task, and the
    same items in Hellaswag's own format under lm-eval's hellaswag.yaml (its prompt processing)."""

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
    _local(folder, "hellaswag", "hellaswag_local", "validation", folder / "hellaswag.jsonl")
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


PASSAGES = os.path.join(os.path.dirname(SHIPPED), "retrieval_pairs.jsonl")


def _rolling_and_generating_tasks(folder):
    """lm-eval's own wikitext task (its detokenizer, its word and byte counts) on honed's shipped
    passages as four documents, and a greedy generation task over their questions."""

    folder.mkdir()
    rows = [json.loads(line) for line in open(PASSAGES)]
    with open(folder / "pages.jsonl", "w") as out:
        for start in range(0, 24, 6):
            out.write(json.dumps({"page": " ".join(row["passage"] for row in rows[start : start + 6])}) + "\n")
    _local(folder, "wikitext", "wiki_local", "test", folder / "pages.jsonl", "validation_split: null\n")
    (folder / "honed_gen.yaml").write_text(f"""task: honed_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {PASSAGES}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{query}}}}\\nAnswer:"
doc_to_target: " {{{{passage}}}}"
generation_kwargs:
  until: ["\\n", "?"]
  max_gen_toks: 12
  do_sample: false
metric_list:
  - metric: exact_match
""")
    return folder


@pytest.mark.slow
def test_perplexity_and_generation_tasks_score_a_handle_as_lm_evals_own_model_does(tmp_path, smollm2_ref, monkeypatch):
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    from honed.models import load_model
    from honed.tasks import lm_eval_model
    from honed.tasks.lm_eval_task import LmEvalTask, _task_manager

    folder = _rolling_and_generating_tasks(tmp_path / "tasks")
    # Windows of 48 tokens: each 60-token document is scored in two, as lm-eval rolls a long one.
    monkeypatch.setattr(lm_eval_model, "MAX_LENGTH", 48)
    handle = load_model(smollm2_ref)
    reference = HFLM(pretrained=handle.module, tokenizer=handle.tokenizer, batch_size=1, max_length=48)
    manager = _task_manager(str(folder))
    options = {"task": "wiki_local", "include_path": str(folder)}
    assert LmEvalTask.primary_of(options) == "word_perplexity"  # what a tune's guardrail holds by default
    task = build_task(TaskSpec(name="lm-eval", options=options))
    quality = evaluate_quality(task, handle)
    theirs = lm_eval.simple_evaluate(model=reference, tasks=["wiki_local"], task_manager=manager, bootstrap_iters=0)
    theirs = theirs["results"]["wiki_local"]
    assert quality.items == 4 and quality.primary == "word_perplexity"
    assert quality.better["word_perplexity"] == "lower" and 1 < quality.values["word_perplexity"] < 1000
    for metric in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        assert quality.values[metric] == pytest.approx(theirs[f"{metric},none"], rel=1e-4), metric

    generation = {"task": "honed_gen", "include_path": str(folder), "limit": 4}
    assert LmEvalTask.primary_of(generation) == "exact_match"
    mine = lm_eval.simple_evaluate(
        model=lm_eval_model.harness_model(handle), tasks=["honed_gen"], task_manager=manager, limit=4, log_samples=True
    )
    theirs = lm_eval.simple_evaluate(
        model=reference, tasks=["honed_gen"], task_manager=manager, limit=4, log_samples=True
    )
    answers = [sample["resps"][0][0] for sample in mine["samples"]["honed_gen"]]
    assert answers == [sample["resps"][0][0] for sample in theirs["samples"]["honed_gen"]]
    # Cut at the first stop string (three of SmolLM2's answers begin with a line break: empty).
    assert any(answers) and not [a for a in answers if "\n" in a or "?" in a], answers
    scored = evaluate_quality(build_task(TaskSpec(name="lm-eval", options=generation)), handle)
    assert scored.items == 4 and scored.primary == "exact_match" and scored.values == {"exact_match": 0.0}


@pytest.mark.parametrize("model", ["gguf", "torch"])
def test_lm_eval_generation_decodes_as_honed_serve_does_on_each_runtime(model, request):
    """lm-eval's generate_until requests through the runtime's own decoder (llama.cpp's sequences
    for a GGUF): the tokens the handle's own greedy steps make from the prompt's tokens (without
    special tokens, as lm-eval encodes), cut at the first stop string."""
    from types import SimpleNamespace

    import numpy as np

    from honed.models.capabilities import as_text_decoder
    from honed.tasks.lm_eval_model import harness_model

    handle = request.getfixturevalue("tiny_gguf_handle" if model == "gguf" else "tiny_llama_handle")
    decoder = as_text_decoder(handle)
    ids = np.array([decoder.token_ids("the quick brown", special_tokens=False)])
    step, state, made = handle.prepare({"input_ids": ids, "attention_mask": np.ones_like(ids)}), None, []
    for _ in range(6):
        step, state = decoder.greedy_step(step, state)
        made.append(int(step[0, 0]))
    served = decoder.tokenizer.decode(made)
    lm = harness_model(handle)
    asked = [SimpleNamespace(args=("the quick brown", {"until": ["\u2603"], "max_gen_toks": 6, "do_sample": False}))]
    assert lm.generate_until(asked) == [served]
    stop = served[len(served) // 2 :][:2]  # a stop string inside what it writes: the text ends before it
    cut = [SimpleNamespace(args=("the quick brown", {"until": [stop], "max_gen_toks": 6}))]
    assert lm.generate_until(cut) == [served.split(stop)[0]]
    with pytest.raises(SpecError, match="greedily"):
        lm.generate_until([SimpleNamespace(args=("x", {"do_sample": True, "temperature": 0.7}))])
