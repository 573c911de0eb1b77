"""The command line as a user runs it: real processes, exit codes, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import honed, tomlish

EXAMPLES = Path(__file__).parent.parent / "examples"
FAST = ["--repetitions", "1"]


@pytest.fixture
def store(tmp_path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
def fast_spec(tmp_path) -> Path:
    text = (EXAMPLES / "sleeper.toml").read_text()
    text = text.replace("min_samples = 50", "min_samples = 10").replace("min_seconds = 1.0", "min_seconds = 0.1")
    path = tmp_path / "sleeper.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_evaluate_list_show_export_import_compare(store, fast_spec, tmp_path):
    first = honed("evaluate", str(fast_spec), "--repetitions", "3", "--name", "before", store=store)
    assert "p50 ms" in first.stdout and "stored run" in first.stdout
    second = honed("evaluate", str(fast_spec), "--repetitions", "3", "-b", "1", "--json", str(tmp_path / "r.json"), store=store)
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["schema"] == "honed.run" and record["record"]["protocol"]["batch_sizes"] == [1]
    run_a = first.stdout.split("stored run ")[1].split()[0]
    run_b = second.stdout.split("stored run ")[1].split()[0]

    listing = honed("runs", "list", store=store).stdout
    assert run_a[:12] in listing and run_b[:12] in listing and "before" in listing
    assert "protocol   scope=model" in honed("runs", "show", run_a[:8], store=store).stdout

    compared = honed("compare", run_a, run_b, store=store).stdout
    assert "p50 ms" in compared and "not significant" in compared
    assert "batch sizes measured in only one run: [4]" in compared

    other = tmp_path / "other.db"
    honed("runs", "export", run_a, "-o", str(tmp_path / "a.json"), store=store)
    honed("runs", "import", str(tmp_path / "a.json"), store=other)
    assert run_a[:12] in honed("runs", "list", store=other).stdout
    again = honed("runs", "import", str(tmp_path / "a.json"), store=other, check_code=2)
    assert "already stored" in again.stderr


@pytest.mark.slow
def test_exit_codes_for_bad_input(store, tmp_path):
    missing = honed("evaluate", "--model", str(tmp_path / "nope.onnx"), "--kind", "onnx", *FAST, store=store, check_code=2)
    assert "no such file or directory" in missing.stderr and "nope.onnx" in missing.stderr
    unknown = honed("evaluate", "--model", "m", "--kind", "onx", store=store, check_code=2)
    assert "did you mean 'onnx'" in unknown.stderr
    from honed.store import Store

    assert Store(str(store)).list() == []  # rejected before any worker ran: nothing stored
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n[protocol]\nrepetition = 2\n')
    field = honed("evaluate", str(bad), store=store, check_code=2)
    assert "protocol.repetition" in field.stderr and "did you mean 'repetitions'" in field.stderr
    assert "no run with id" in honed("runs", "show", "feedbeef", store=store, check_code=2).stderr
    assert honed("evaluate", "--model", "x", "--kind", "onnx", "--scope", "e2e", store=store, check_code=2).stderr


@pytest.mark.slow
def test_a_crashing_model_exits_3_and_the_run_is_stored(store, tmp_path):
    done = honed("evaluate", "--model", "honed.zoo:crash_at", "--kind", "factory", "--shape", "4",
                 "-b", "1", "-b", "2", *FAST, store=store, check_code=3)
    assert "crashed" in done.stdout and "exited with code 139" in done.stdout
    assert "partial" in honed("runs", "list", store=store).stdout


@pytest.mark.slow
def test_strict_compare_refuses_different_environments(store, fast_spec):
    a = honed("evaluate", str(fast_spec), "--threads", "1", "-b", "1", *FAST, store=store).stdout
    b = honed("evaluate", str(fast_spec), "--threads", "2", "-b", "1", *FAST, store=store).stdout
    run_a, run_b = (text.split("stored run ")[1].split()[0] for text in (a, b))
    refused = honed("compare", run_a, run_b, "--strict", store=store, check_code=4)
    assert "threads" in refused.stderr


@pytest.mark.slow
def test_tune_resume_slo_and_report_on_a_trained_cnn(store, tmp_path, digits_cnn):
    """A real tune from a spec file: quality from the shipped digits, trials in workers."""
    spec = tmp_path / "digits.toml"
    spec.write_text(f"""
name = "digits"
[model]
kind = "factory"
source = "honed.zoo:cnn"
options = {tomlish(digits_cnn.options)}
[inputs]
shape = [1, 8, 8]
[protocol]
batch_sizes = [16]
repetitions = 2
min_samples = 10
min_seconds = 0.1
warmup_min_seconds = 0.0
energy_idle_seconds = 0.0
[target]
device = "cpu"
[task]
name = "image-classification"
[tune]
candidates = ["dynamic-int8", "bf16"]
screen_limit = 100
contention_retries = 0
""")
    first = honed("tune", str(spec), store=store)
    assert "recommended:" in first.stdout and "satisfied" in first.stdout
    sweep_id = first.stdout.split("sweep ")[1].split(";")[0].strip()
    from honed.store import Store
    from honed.tuning import TuneResult

    result = TuneResult.model_validate(Store(str(store)).sweep(sweep_id))
    assert result.baseline.quality.values["top1"] > 0.9 and result.baseline.screen.items == 100
    assert {t.label for t in result.trials} >= {"bf16", "dynamic-int8"}
    assert all((t.status == "ok") == (t.reason is None) for t in result.trials)  # every refusal says why
    # The same command again measures nothing: every trial comes from the store.
    again = honed("tune", str(spec), store=store)
    assert again.stderr.count("(cached)") == len(result.trials) + 1
    # An SLO nothing can meet: exit 6 and say so, never a silent recommendation.
    impossible = honed("tune", str(spec), "--slo-ms", "0.001", store=store, check_code=6)
    assert "not satisfied" in impossible.stdout
    report = tmp_path / "report.html"
    honed("report", sweep_id, "-o", str(report), store=store)
    html = report.read_text()
    assert html.count("<svg") >= 3 and "dynamic-int8" in html and "Pareto front" in html
    assert "recommended: " in html and "Objective: latency p50 (ms, lower is better)" in html


