"""The command line as a user runs it: real processes, exit codes, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import digits_tune_spec, honed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FAST = ["--repetitions", "1"]


@pytest.fixture
def store(tmp_path) -> Path:
    return tmp_path / "runs.db"


def write_fast_spec(folder: Path) -> Path:
    """The sleeper example with a shorter protocol."""
    text = (EXAMPLES / "sleeper.toml").read_text()
    path = folder / "sleeper.toml"
    path.write_text(
        text.replace("min_samples = 50", "min_samples = 10").replace("min_seconds = 1.0", "min_seconds = 0.1")
    )
    return path


@pytest.fixture
def fast_spec(tmp_path) -> Path:
    return write_fast_spec(tmp_path)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two evaluations of the sleeper in one store, shared by the tests of what users do with
    stored runs (each evaluation is a CLI process plus a worker: too slow to repeat per test)."""
    root = tmp_path_factory.mktemp("two_runs")
    store, spec = root / "runs.db", write_fast_spec(root)
    first = honed("evaluate", str(spec), "--repetitions", "3", "--name", "before", store=store)
    second = honed("evaluate", str(spec), "--repetitions", "3", "-b", "1", "-o", str(root / "r.json"), store=store)
    ids = [done.stdout.split("stored run ")[1].split()[0] for done in (first, second)]
    return {"store": store, "root": root, "first": first, "ids": ids}


@pytest.mark.slow
def test_evaluate_prints_the_percentiles_and_the_stored_run(two_runs):
    assert "p50 ms" in two_runs["first"].stdout and "stored run" in two_runs["first"].stdout


@pytest.mark.slow
def test_evaluate_json_writes_the_record_with_its_protocol(two_runs):
    record = json.loads((two_runs["root"] / "r.json").read_text())
    assert record["schema"] == "honed.run" and record["record"]["protocol"]["batch_sizes"] == [1]


@pytest.mark.slow
def test_json_puts_only_the_record_or_the_comparison_on_stdout(two_runs):
    """--json: scripts read stdout as JSON while the tables and progress go to stderr."""
    spec = write_fast_spec(two_runs["root"])
    done = honed("evaluate", str(spec), "--repetitions", "1", "-b", "1", "--json", store=two_runs["store"])
    record = json.loads(done.stdout)
    assert record["schema"] == "honed.run" and "p50 ms" in done.stderr and "stored run" in done.stderr
    first, second = two_runs["ids"]
    compared = json.loads(honed("compare", first, second, "--json", store=two_runs["store"]).stdout)
    assert compared["verdicts"] and {"metric", "verdict"} <= set(compared["verdicts"][0])


@pytest.mark.slow
def test_runs_list_and_show_find_stored_runs_by_prefix(two_runs):
    run_a, run_b = two_runs["ids"]
    listing = honed("runs", "list", store=two_runs["store"]).stdout
    assert run_a[:12] in listing and run_b[:12] in listing and "before" in listing
    assert "protocol   scope=model" in honed("runs", "show", run_a[:8], store=two_runs["store"]).stdout


@pytest.mark.slow
def test_compare_of_two_runs_of_one_model_calls_nothing(two_runs):
    compared = honed("compare", *two_runs["ids"], store=two_runs["store"]).stdout
    assert "p50 ms" in compared and "not significant" in compared
    assert "batch sizes measured in only one run: [4]" in compared


@pytest.mark.slow
def test_an_exported_run_imports_into_another_store_once(two_runs, tmp_path):
    run_a = two_runs["ids"][0]
    other = tmp_path / "other.db"
    honed("runs", "export", run_a, "-o", str(tmp_path / "a.json"), store=two_runs["store"])
    honed("runs", "import", str(tmp_path / "a.json"), store=other)
    assert run_a[:12] in honed("runs", "list", store=other).stdout
    again = honed("runs", "import", str(tmp_path / "a.json"), store=other, check_code=2)
    assert "already stored" in again.stderr


@pytest.mark.slow
def test_exit_codes_for_bad_input(store, tmp_path):
    missing = honed(
        "evaluate", "--model", str(tmp_path / "nope.onnx"), "--kind", "onnx", *FAST, store=store, check_code=2
    )
    assert "no such file or directory" in missing.stderr and "nope.onnx" in missing.stderr
    unknown = honed("evaluate", "--model", "m", "--kind", "onx", store=store, check_code=2)
    assert "did you mean 'onnx'" in unknown.stderr
    from honed.store.database import Store

    assert Store(str(store)).list() == []  # rejected before any worker ran: nothing stored
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nkind = "factory"\nsource = "honed.zoo:mlp"\n[protocol]\nrepetition = 2\n')
    field = honed("evaluate", str(bad), store=store, check_code=2)
    assert "protocol.repetition" in field.stderr and "did you mean 'repetitions'" in field.stderr
    assert "no run with id" in honed("runs", "show", "feedbeef", store=store, check_code=2).stderr
    assert honed("evaluate", "--model", "x", "--kind", "onnx", "--scope", "e2e", store=store, check_code=2).stderr


@pytest.mark.slow
def test_a_crashing_model_exits_3_and_the_run_is_stored(store, tmp_path):
    done = honed(
        "evaluate",
        "--model",
        "honed.zoo:crash_at",
        "--kind",
        "factory",
        "--shape",
        "4",
        "-b",
        "1",
        "-b",
        "2",
        *FAST,
        store=store,
        check_code=3,
    )
    assert "crashed" in done.stdout and "exited with code 139" in done.stdout
    assert "partial" in honed("runs", "list", store=store).stdout


@pytest.mark.slow
def test_strict_compare_refuses_different_environments(store, fast_spec):
    a = honed("evaluate", str(fast_spec), "--threads", "1", "-b", "1", *FAST, store=store).stdout
    b = honed("evaluate", str(fast_spec), "--threads", "2", "-b", "1", *FAST, store=store).stdout
    run_a, run_b = (text.split("stored run ")[1].split()[0] for text in (a, b))
    refused = honed("compare", run_a, run_b, "--strict", store=store, check_code=4)
    assert "threads" in refused.stderr


@pytest.fixture(scope="module")
def digits_tune(tmp_path_factory, digits_cnn):
    """A real tune from a spec file: quality from the shipped digits, trials in workers. Run
    once; the tests below each check one thing about it."""
    root = tmp_path_factory.mktemp("digits_tune")
    store = root / "runs.db"
    spec = root / "digits.toml"
    digits_tune_spec(spec, digits_cnn, ["dynamic-int8", "bf16"])
    spec.write_text(spec.read_text() + "screen_limit = 100\n")  # [tune] is the spec's last table
    first = honed("tune", str(spec), store=store)
    sweep_id = first.stdout.split("sweep ")[1].split(";")[0].strip()
    return {"store": store, "spec": spec, "first": first, "sweep_id": sweep_id}


def _sweep(digits_tune):
    from honed.store.database import Store
    from honed.tuning import TuneResult

    return TuneResult.model_validate(Store(str(digits_tune["store"])).sweep(digits_tune["sweep_id"]))


@pytest.mark.slow
def test_tune_recommends_a_recipe_that_meets_the_guardrail(digits_tune):
    assert "recommended:" in digits_tune["first"].stdout and "satisfied" in digits_tune["first"].stdout
    result = _sweep(digits_tune)
    assert result.baseline.quality.values["top1"] > 0.9 and result.baseline.screen.items == 100
    assert {t.label for t in result.trials} >= {"bf16", "dynamic-int8"}


@pytest.mark.slow
def test_tune_says_why_for_every_trial_it_refused(digits_tune):
    assert all((t.status == "ok") == (t.reason is None) for t in _sweep(digits_tune).trials)


@pytest.mark.slow
def test_the_same_tune_again_measures_nothing(digits_tune):
    again = honed("tune", str(digits_tune["spec"]), store=digits_tune["store"])
    assert again.stderr.count("(cached)") == len(_sweep(digits_tune).trials) + 1


@pytest.mark.slow
def test_the_dashboard_shows_the_sweep_and_its_cell_of_the_matrix(digits_tune):
    """Before any other tune of this spec: the matrix cell is this sweep's recommendation."""
    import httpx

    from web import dashboard

    result = _sweep(digits_tune)
    best = result.recommended
    base = next(p for p in result.points if p.trial == result.baseline.key and p.batch_size == best.batch_size)
    with dashboard(digits_tune["store"]) as site:
        matrix = httpx.get(f"{site}/matrix").text
        assert best.label in matrix and f"{base.objective / best.objective:.2f}x latency p50" in matrix
        assert f'href="/sweeps/{result.id}"' in matrix
        assert result.id[:12] in httpx.get(f"{site}/sweeps").text
        report = httpx.get(f"{site}/sweeps/{result.id}").text
        assert "Pareto front" in report and 'href="/sweeps"' in report


@pytest.mark.slow
def test_a_tune_whose_slo_nothing_meets_exits_6_and_says_so(digits_tune):
    impossible = honed("tune", str(digits_tune["spec"]), "--slo-ms", "0.001", store=digits_tune["store"], check_code=6)
    assert "not satisfied" in impossible.stdout


@pytest.mark.slow
def test_the_report_of_a_sweep_draws_its_pareto_front(digits_tune, tmp_path):
    report = tmp_path / "report.html"
    honed("report", digits_tune["sweep_id"], "-o", str(report), store=digits_tune["store"])
    html = report.read_text()
    assert html.count("<svg") >= 3 and "dynamic-int8" in html and "Pareto front" in html
    assert "recommended: " in html and "Objective: latency p50 (ms, lower is better)" in html


@pytest.mark.slow
def test_tune_save_writes_a_recommended_recipe_with_the_tunes_own_runs_in_its_card(digits_tune, tmp_path):
    """Whichever recipe wins here, saving the bf16 trial as the recommendation writes it as `honed
    optimize` does, its table from the runs the tune stored; a full --save directory is refused
    before any trial."""
    from honed.cli.optimize import save_recommended
    from honed.spec.build import load_spec
    from honed.store.database import Store

    result = _sweep(digits_tune)
    bf16 = next(t for t in result.trials if t.label == "bf16")
    point = next(p for p in result.points if p.trial == bf16.key)
    chosen = result.model_copy(update={"recommended": point})
    out = tmp_path / "saved"
    save_recommended(load_spec(digits_tune["spec"]), chosen, out, Store(str(digits_tune["store"])), "honed tune x")
    card = (out / "README.md").read_text()
    assert (out / "model.safetensors").is_file() and bf16.run_id[:12] in card and result.baseline.run_id[:12] in card
    assert "| batch 16: median latency |" in card and "top1 (image-classification" in card
    assert f"Chosen by `honed tune` (sweep `{result.id[:12]}`" in card and "It recommended bf16 at batch 16" in card
    assert "quality judged on the `image-classification` task under the guardrail: top1 may drop at most" in card
    busy = honed("tune", str(digits_tune["spec"]), "--save", str(out), store=digits_tune["store"], check_code=2)
    assert "nothing is overwritten" in busy.stderr and "(cached)" not in busy.stderr
