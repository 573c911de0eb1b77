"""A user's own data for a task: read whole and checked before any worker starts; a malformed file
fails with its name, line and field; a good one is what quality is scored on."""

from __future__ import annotations

import json
import time

import pytest

from helpers import honed
from honed.core.errors import SpecError
from honed.core.protocol import TaskSpec
from honed.tasks import build_task


def _jsonl(path, rows):
    path.write_text("\n".join(json.dumps(row) if not isinstance(row, str) else row for row in rows) + "\n")
    return path


def test_each_text_task_reads_the_users_file(tmp_path):
    pairs = _jsonl(tmp_path / "pairs.jsonl", [{"query": f"q{i}", "passage": f"p{i}"} for i in range(5)])
    embedding = build_task(TaskSpec(name="text-embedding", options={"data": str(pairs), "k": 2}))
    assert embedding.queries == [f"q{i}" for i in range(5)] and embedding.k == 2
    (tmp_path / "texts.txt").write_text("first text\n\nsecond text\n")
    assert build_task(TaskSpec(name="language-modeling", options={"data": str(tmp_path / "texts.txt")})).texts == [
        "first text",
        "second text",
    ]
    items = [{"ctx": "A cat", "endings": ["sat.", "flew."], "label": 0}] * 3
    choice = build_task(TaskSpec(name="multiple-choice", options={"data": str(_jsonl(tmp_path / "mc.jsonl", items))}))
    assert len(choice.items) == 3


@pytest.mark.parametrize(
    ("task", "rows", "where", "what"),
    [
        ("text-embedding", [{"query": "q", "passage": "p"}, "", "{not json"], "pairs.jsonl line 3", "JSON object"),
        ("text-embedding", [{"query": "q", "passage": "p"}, {"query": "q"}], "line 2, field 'passage'", "str"),
        ("multiple-choice", [{"ctx": "c", "endings": ["a", "b"], "label": 2}], "line 1", "label: the index"),
        ("multiple-choice", [{"ctx": "c", "endings": ["a", "b"], "label": True}], "field 'label'", "int"),
        ("language-modeling", [{"text": 3}], "line 1, field 'text'", "str"),
    ],
)
def test_a_malformed_file_is_named_with_its_line_and_field(tmp_path, task, rows, where, what):
    data = _jsonl(tmp_path / "pairs.jsonl", rows)
    with pytest.raises(SpecError) as refused:
        build_task(TaskSpec(name=task, options={"data": str(data)}))
    message = str(refused.value)
    assert message.startswith("task.options.data") and where in message and what in message
    assert "\n" not in message


def test_a_missing_or_empty_file_is_refused(tmp_path):
    with pytest.raises(SpecError, match="an existing file"):
        build_task(TaskSpec(name="language-modeling", options={"data": str(tmp_path / "nope.txt")}))
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(SpecError, match="at least one row"):
        build_task(TaskSpec(name="text-embedding", options={"data": str(tmp_path / "empty.jsonl")}))


def test_the_cli_refuses_bad_task_data_with_exit_2_before_any_worker(tmp_path, minilm_path):
    bad = _jsonl(tmp_path / "pairs.jsonl", [{"query": "q", "passage": "p"}, {"query": "q2", "passage": 7}])
    started = time.monotonic()
    done = honed(
        "evaluate", "--model", minilm_path, "--kind", "sentence-transformers", "--task", "text-embedding",
        "--task-data", str(bad), store=tmp_path / "honed.db", check_code=2,
    )  # fmt: skip
    assert "pairs.jsonl line 2, field 'passage'" in done.stderr and time.monotonic() - started < 60
    assert "measuring" not in done.stderr  # refused by the plan: no worker was started


def test_a_spec_files_data_path_is_relative_to_the_file(tmp_path):
    from honed.spec import load_spec

    (tmp_path / "data").mkdir()
    _jsonl(tmp_path / "data" / "pairs.jsonl", [{"query": "q", "passage": "p"}])
    (tmp_path / "run.toml").write_text(
        '[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n'
        '[task]\nname = "text-embedding"\noptions = { data = "data/pairs.jsonl" }\n'
    )
    spec = load_spec(tmp_path / "run.toml")
    assert spec.task.options["data"] == str((tmp_path / "data" / "pairs.jsonl").resolve())


def test_quality_is_scored_on_the_users_pairs(tmp_path, minilm_path):
    from honed.core.protocol import ModelRef
    from honed.models import load_model
    from honed.tasks import evaluate_quality

    rows = [
        {"query": "How do I boil an egg?", "passage": "Put the egg in boiling water for eight minutes."},
        {"query": "What is the capital of France?", "passage": "Paris is the capital of France."},
        {"query": "How many legs does a spider have?", "passage": "Spiders have eight legs."},
    ]
    data = _jsonl(tmp_path / "pairs.jsonl", rows)
    task = build_task(TaskSpec(name="text-embedding", options={"data": str(data)}))
    quality = evaluate_quality(task, load_model(ModelRef(kind="sentence-transformers", source=minilm_path)))
    assert quality.items == 3 and quality.values["recall_at_k"] == 1.0
