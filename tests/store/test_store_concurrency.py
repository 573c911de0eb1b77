"""Several honed processes writing to one SQLite store at once lose nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from helpers import digits_tune_spec, honed_process
from honed.store.database import Store
from honed.tuning import TuneResult

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _two_evaluations_and_a_tune(url: str, tmp_path: Path, digits_cnn) -> None:
    tag = uuid.uuid4().hex[:8]
    spec = tmp_path / "digits.toml"
    digits_tune_spec(spec, digits_cnn, ["bf16"], name=f"tune-{tag}")
    sleeper = ["--repetitions", "1", "-b", "1", "--threads", "1"]
    processes = [
        honed_process("evaluate", str(EXAMPLES / "sleeper.toml"), *sleeper, "--name", f"a-{tag}", store=url),
        honed_process("evaluate", str(EXAMPLES / "sleeper.toml"), *sleeper, "--name", f"b-{tag}", store=url),
        honed_process("tune", str(spec), store=url),
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stdout + stderr
    store = Store(url)
    names = [row.name for row in store.list(limit=10_000) if row.name and tag in row.name]
    assert sorted(n for n in names if not n.startswith("tune")) == [f"a-{tag}", f"b-{tag}"]
    sweep_id = outputs[2][0].split("sweep ")[1].split(";")[0].strip()
    result = TuneResult.model_validate(store.sweep(sweep_id))
    assert {t.label for t in result.trials} | {result.baseline.label} == {"baseline", "bf16"}
    for trial in [*result.trials, result.baseline]:
        assert store.get(trial.run_id).name == f"tune-{tag}: {trial.label}"  # every trial's run is whole
        assert store.trial(trial.key)["run_id"] == trial.run_id


@pytest.mark.slow
def test_concurrent_writers_on_sqlite(tmp_path, digits_cnn):
    _two_evaluations_and_a_tune(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path, digits_cnn)


# On PostgreSQL, test_campaign's Ray campaign has two nodes write runs, trials and the campaign's
# ledger into one database at once, and checks that every trial is there once.
