"""Campaigns: a spec of models x targets expanded per target, run here or on a real two-node Ray
cluster into a real PostgreSQL, surviving a killed Ray worker, reported as the case-study table."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from helpers import honed, honed_process, postgres_url_or_skip
from honed.campaign import expand, ledger, load_campaign
from honed.campaign.cells import campaign_id
from honed.campaign.executors import check_cluster
from honed.campaign.report import build_report, markdown
from honed.core.errors import SpecError
from honed.core.protocol import Step
from honed.load.served import free_port
from honed.store.database import Store
from honed.tuning.result import TuneResult

RAY = Path(sys.executable).parent / "ray"
SPEC = """
name = "{name}"
[[models]]
name = "mlp-a"
kind = "factory"
source = "honed.zoo:mlp"
options = {{ kwargs = {{ features = 8, hidden = 16 }}, weights = "a.safetensors" }}
inputs = {{ shape = [8] }}
[[models]]
name = "mlp-b"
kind = "factory"
source = "honed.zoo:mlp"
options = {{ kwargs = {{ features = 16, hidden = 16 }}, weights = "b.safetensors" }}
inputs = {{ shape = [16] }}
[[targets]]
name = "cpu-a"
[[targets]]
name = "cpu-b"
price_per_hour = 0.5
[tune]
candidates = ["bf16", "fp8-dynamic"]
max_steps = 1
contention_retries = 0  # two nodes share this machine's two cores: every trial is contended
[scenario]
repetitions = 1
min_samples = 10
min_seconds = 0.1
warmup_iterations = 2
measure_energy = false
"""


def _write_spec(root: Path, name: str = "pair", extra: str = "", one_target: bool = False) -> Path:
    """The spec and its two small models' weights (new files: a new identity, so nothing is cached
    from an earlier test run in the same PostgreSQL); ``one_target``: cpu-a only (two cells)."""
    import torch
    from safetensors.torch import save_model

    from honed.zoo import mlp

    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for file, features in (("a.safetensors", 8), ("b.safetensors", 16)):
        save_model(mlp(features=features, hidden=16).eval(), str(root / file))
    spec = SPEC.format(name=name) + extra
    if one_target:
        spec = spec.replace('[[targets]]\nname = "cpu-b"\nprice_per_hour = 0.5\n', "")
    spec = spec.replace('"a.safetensors"', json.dumps(str(root / "a.safetensors")))
    spec = spec.replace('"b.safetensors"', json.dumps(str(root / "b.safetensors")))
    (root / "campaign.toml").write_text(spec)
    return root / "campaign.toml"


# --- the spec and its plan ----------------------------------------------------------------------


def test_each_target_leaves_out_what_it_cannot_run_and_says_why(tmp_path):
    path = _write_spec(tmp_path, extra='[[targets]]\nname = "h100"\ndevice = "cuda"\nexclude = ["bf16"]\n')
    cells = {cell.key: cell for cell in expand(load_campaign(path))}
    assert len(cells) == 6  # 2 models x 3 targets
    assert cells["mlp-a", "cpu-a"].skipped == {"fp8-dynamic": "fp8-dynamic runs on cuda only, not cpu"}
    assert cells["mlp-b", "h100"].skipped == {"bf16": "excluded"}
    assert cells["mlp-b", "h100"].resource == "target:h100" and cells["mlp-b", "h100"].target_spec.device == "cuda"
    assert (
        cells["mlp-a", "cpu-b"].target_spec.price_per_hour == 0.5
        and cells["mlp-a", "cpu-b"].target_spec.name == "cpu-b"
    )
    # The same spec and software is the same campaign (a rerun resumes it); another spec is another.
    assert campaign_id(load_campaign(path)) == cells["mlp-a", "cpu-a"].campaign_id
    assert (
        campaign_id(load_campaign(_write_spec(tmp_path / "other", name="other"))) != cells["mlp-a", "cpu-a"].campaign_id
    )
    # A fix to the algorithms' source is a new campaign too: its done cells are tuned again.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("honed.campaign.cells.code_identity", lambda names: {"algorithms/precision.py": "fixed"})
        assert campaign_id(load_campaign(path)) != cells["mlp-a", "cpu-a"].campaign_id


def test_a_candidate_in_the_spec_carries_its_parameters(tmp_path):
    path = _write_spec(tmp_path)
    path.write_text(
        path.read_text().replace(
            'candidates = ["bf16", "fp8-dynamic"]', 'candidates = ["bf16", "magnitude-prune:amount=0.3,scope=global"]'
        )
    )
    cell = expand(load_campaign(path))[0]
    assert cell.settings.candidates == (
        "bf16",
        Step(algorithm="magnitude-prune", params={"amount": 0.3, "scope": "global"}),
    )
    assert cell.skipped == {}
    path.write_text(path.read_text().replace("amount=0.3", "amount"))
    with pytest.raises(SpecError, match="name:key=value"):
        expand(load_campaign(path))


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        (('name = "mlp-b"', 'name = "mlp-a"'), "campaign.toml", "named once each"),
        (("max_steps = 1", "max_steps = 1\nmax_step = 2"), "models.mlp-a.tune.max_step", "unknown field"),
        (("repetitions = 1", "repetitions = 0"), "models.mlp-a.scenario.repetitions", "greater than or equal to 1"),
        (('name = "cpu-b"', 'name = "cpu-b"\ndevice = "tpu"'), "campaign.toml.targets.1.device", "'cpu' or 'cuda'"),
    ],
)
def test_a_bad_spec_names_the_field_and_what_is_allowed(tmp_path, change, field, allowed):
    path = _write_spec(tmp_path)
    path.write_text(path.read_text().replace(*change, 1))
    with pytest.raises(SpecError) as caught:
        expand(load_campaign(path))
    assert caught.value.field == field and allowed in str(caught.value)


def test_the_cluster_must_have_each_target_and_a_store_every_node_reaches(tmp_path):
    cells = expand(load_campaign(_write_spec(tmp_path)))
    node_a = {"NodeID": "a", "NodeManagerAddress": "10.0.0.1", "Resources": {"target:cpu-a": 1, "bench_slot": 1}}
    node_b = {"NodeID": "b", "NodeManagerAddress": "10.0.0.2", "Resources": {"target:cpu-b": 1, "bench_slot": 1}}
    with pytest.raises(SpecError, match="labels in this cluster: target:cpu-a") as caught:
        check_cluster([node_a], cells, "postgresql://db/honed")
    assert caught.value.field == "targets.cpu-b.resource" and "bench_slot" in caught.value.hint
    with pytest.raises(SpecError, match="bench_slot: 1"):
        check_cluster([node_a, {**node_b, "Resources": {"target:cpu-b": 1}}], cells, "postgresql://db/honed")
    with pytest.raises(SpecError, match="PostgreSQL URL that every node reaches"):
        check_cluster([node_a, node_b], cells, f"sqlite:///{tmp_path}/runs.db")
    check_cluster([node_a, node_b], cells, "postgresql+psycopg://db/honed")  # fine
    gpu_cells = expand(
        load_campaign(_write_spec(tmp_path / "gpu", extra='[[targets]]\nname = "h100"\ndevice = "cuda"\n'))
    )
    node_h100 = {"NodeID": "c", "NodeManagerAddress": "10.0.0.3", "Resources": {"target:h100": 1, "bench_slot": 1}}
    with pytest.raises(SpecError, match="have a GPU") as caught:
        check_cluster([node_a, node_b, node_h100], gpu_cells, "postgresql://db/honed")
    assert caught.value.field == "targets.h100.device"
    check_cluster(
        [node_a, node_b, {**node_h100, "Resources": {**node_h100["Resources"], "GPU": 1}}],
        gpu_cells,
        "postgresql://db/honed",
    )


# --- real campaigns -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster():
    """Two Ray nodes on this machine, each one target (its label plus one bench slot, one CPU)."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    common = [
        "--node-ip-address",
        "127.0.0.1",
        "--num-cpus",
        "1",
        "--object-store-memory",
        str(100 << 20),
        "--disable-usage-stats",
    ]
    head = [
        str(RAY),
        "start",
        "--head",
        "--port",
        str(port),
        "--include-dashboard=false",
        "--temp-dir",
        temp,
        "--resources",
        json.dumps({"target:cpu-a": 1, "bench_slot": 1}),
        *common,
    ]
    second = [
        str(RAY),
        "start",
        "--address",
        f"127.0.0.1:{port}",
        "--resources",
        json.dumps({"target:cpu-b": 1, "bench_slot": 1}),
        *common,
    ]
    # Loopback only, so no token: explicit, because a token file left by an earlier ray.init()
    # in ~/.ray would turn token authentication on for the head and not for the second node.
    before, os.environ["RAY_AUTH_MODE"] = os.environ.get("RAY_AUTH_MODE"), "disabled"
    try:
        for command in (head, second):
            subprocess.run(command, check=True, capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
        if before is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = before


def _kill_a_cell_after_its_first_trial(
    store: Store, campaign: str, process: subprocess.Popen, since: datetime
) -> tuple[str, str]:
    """SIGKILLs the Ray worker of a running cell that has stored its baseline trial and no other;
    returns that cell."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        running = {(c.model, c.target): c.pid for c in ledger.cells(store, campaign) if c.status == "running" and c.pid}
        stored: dict[tuple[str, str], list[dict]] = {}
        for trial in _trials(store, since):
            if row := store.get_row(trial["run_id"]) if trial.get("run_id") else None:
                stored.setdefault((row.model_name, row.target), []).append(trial)
        for cell, pid in running.items():
            if [t["recipe"] for t in stored.get(cell, [])] == [[]]:  # its baseline only: killed mid-trial
                os.kill(pid, signal.SIGKILL)
                return cell
        time.sleep(0.2)
    raise AssertionError("no running cell stored a trial while the campaign ran")


def _trials(store: Store, since: datetime) -> list[dict]:
    """Trials stored since ``since`` (the PostgreSQL of a developer may hold earlier test runs')."""
    from sqlalchemy import select

    from honed.store.tables import TrialRow

    return store.read(
        lambda session: [
            dict(row.trial) for row in session.scalars(select(TrialRow).where(TrialRow.created_at >= since))
        ]
    )


@pytest.mark.slow
def test_a_campaign_on_two_ray_nodes_survives_a_killed_worker_and_matches_the_local_one(ray_cluster, tmp_path):
    postgres = postgres_url_or_skip()
    path = _write_spec(tmp_path / "ray")
    campaign = campaign_id(load_campaign(path))
    store, started = Store(postgres), datetime.now(timezone.utc)
    process = honed_process("campaign", "run", str(path), "--executor", "ray", "--ray", ray_cluster, store=postgres)
    killed = _kill_a_cell_after_its_first_trial(store, campaign, process, started)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stdout + stderr

    report = build_report(store, campaign)
    assert report.progress["done"] == 4 and {(r.model, r.target) for r in report.rows} == {
        (m, t) for m in ("mlp-a", "mlp-b") for t in ("cpu-a", "cpu-b")
    }
    cells = {(c.model, c.target): c for c in ledger.cells(store, campaign)}
    assert cells[killed].attempts == 2 and "attempt 2" in stderr
    # Each cell ran on its target's node, and the cell killed mid-trial resumed from the trial it had stored.
    sweeps = {key: TuneResult.model_validate(store.sweep(c.sweep_id)) for key, c in cells.items()}
    assert sweeps[killed].baseline.cached and not sweeps[killed].trials[0].cached
    for (_, target), sweep in sweeps.items():
        assert store.get_row(sweep.baseline.run_id).target == target
    # Every trial is stored once: the sweeps' trials are exactly the trials in the store.
    keys = [t.key for s in sweeps.values() for t in [s.baseline, *s.trials]]
    stored = {t["key"] for t in _trials(store, started)}
    assert len(keys) == len(set(keys)) == len(stored)

    # The same campaign run here on one target (two cells: what is shown depends not on where a cell ran).
    local_db = tmp_path / "local.db"
    local_store, local_spec = f"sqlite:///{local_db}", _write_spec(tmp_path / "local", one_target=True)
    local = honed_process("campaign", "run", str(local_spec), store=local_store)
    stdout, stderr = local.communicate(timeout=600)
    assert local.returncode == 0, stdout + stderr
    assert "mlp-b x cpu-a: 2 trials; last bf16: ok" in stderr  # progress as each trial ends
    local_id = campaign_id(load_campaign(local_spec))
    local_report = build_report(Store(local_store), local_id)
    # Run again, it resumes: every cell is done, nothing is measured.
    assert "every cell was already done" in honed("campaign", "run", str(local_spec), store=local_db).stderr
    status = honed("campaign", "status", local_id[:8], store=local_db).stdout
    assert "2 done" in status and status.count("2 trials; last bf16: ok") == 2
    honed("campaign", "report", local_id, "-o", str(tmp_path / "case-study.md"), store=local_db)
    assert (tmp_path / "case-study.md").read_text() == markdown(local_report)
    assert _matrix(local_report) == {key: row for key, row in _matrix(report).items() if key[1] == "cpu-a"}
    # The dashboard's Matrix shows the campaign's models and targets by name.
    from honed.dashboard.matrix import build as dashboard_matrix

    assert set(dashboard_matrix(Store(local_store)).cells) == set(_matrix(local_report))
    assert "fp8-dynamic runs on cuda only" in markdown(report) and "| mlp-b | cpu-b |" in markdown(report)


def _matrix(report) -> dict:
    """What must not depend on where a cell ran: its status, trials, quality and what was left out."""
    return {
        (r.model, r.target): (
            r.status,
            r.quality_metric,
            round(r.quality_before, 4),
            round(r.quality_after, 3),
            tuple(sorted(r.skipped)),
        )
        for r in report.rows
    }
