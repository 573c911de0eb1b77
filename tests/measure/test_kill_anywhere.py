"""kill -9 of `honed tune` at random points, then resume: every trial is stored whole once or
not at all, no worker survives, and the finished sweep has each of its trials once (the baseline
and every candidate, each under its own key), as an uninterrupted one has."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time

import psutil
import pytest

from helpers import digits_tune_spec, honed_process
from honed.store.database import Store
from honed.tuning import Trial, TuneResult

CANDIDATES = ["bf16", "magnitude-prune"]


def _finished_sweep(spec, url: str) -> TuneResult:
    process = honed_process("tune", str(spec), store=url)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stdout + stderr
    sweep_id = stdout.split("sweep ")[1].split(";")[0].strip()
    return TuneResult.model_validate(Store(url).sweep(sweep_id))


def _trial_set(result: TuneResult) -> set[tuple[str, str]]:
    return {(t.key, t.label) for t in [result.baseline, *result.trials]}


def _check_whole(path) -> int:
    """Every stored trial parses and points at a stored, readable run; returns how many there are."""
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keys = [row[0] for row in connection.execute("SELECT key FROM tune_trials")]
    connection.close()
    store = Store(f"sqlite:///{path}")
    for key in keys:
        trial = Trial.model_validate(store.trial(key))
        assert trial.key == key and (trial.status == "ok") == (
            trial.reason is None
        )  # whole: validated, with its reason
        if trial.run_id:
            assert store.get(trial.run_id).id == trial.run_id
    return len(keys)


def _workers(parent: int) -> list[psutil.Process]:
    """Live workers of the tune process ``parent`` (its pid is a worker's last argument), so other
    work on the machine, another test's workers included, is not mistaken for a survivor."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if (
            "honed.measure.worker" in " ".join(cmdline)
            and cmdline[-1] == str(parent)
            and process.info["status"] != psutil.STATUS_ZOMBIE
        ):
            found.append(process)
    return found


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tmp_path, digits_cnn):
    spec = tmp_path / "digits.toml"
    digits_tune_spec(spec, digits_cnn, CANDIDATES)
    path = tmp_path / "killed.db"
    url = f"sqlite:///{path}"
    rng = random.Random(20261123)
    stored = 0
    for _ in range(6):
        process = honed_process("tune", str(spec), store=url, start_new_session=True)
        time.sleep(rng.uniform(0.5, 8.0))
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        deadline = time.monotonic() + 2  # workers notice the death within a second
        while _workers(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _workers(process.pid), "a worker outlived the killed tune by 2 s"
        if path.exists():
            now = _check_whole(path)
            assert now >= stored  # a kill never takes away what was stored
            stored = now
    resumed = _finished_sweep(spec, url)
    trials = _trial_set(resumed)
    assert sorted(label for _, label in trials) == sorted(["baseline", *CANDIDATES])
    assert len({key for key, _ in trials}) == len(trials) == _check_whole(path)  # each stored once
