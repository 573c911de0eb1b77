"""Where campaign cells run: ``local`` (one after another in this process, on this machine) or
``ray`` (one Ray task per cell, placed on a node of its target by the target's resource).

Ray does the placement, the retries and the failure detection. Each node advertises
``bench_slot: 1`` and every cell asks for it, so two timing jobs never share a node's cores;
a task whose worker or node dies is retried (``MAX_RETRIES``) on a node with the same label
and resumes from the trials the store already holds."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from honed.campaign import ledger
from honed.campaign.cell import CellOutcome, ProgressCallback, run_cell
from honed.campaign.cells import CampaignCell
from honed.core.errors import HonedError, SpecError
from honed.measure.executor import THREAD_VARIABLES

BENCH_SLOT = "bench_slot"
MAX_RETRIES = 3
PROGRESS_POLL_S = 5.0

OutcomeCallback = Callable[[CellOutcome], None]


def run_local(
    cells: list[CampaignCell],
    store_url: str,
    on_outcome: OutcomeCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[CellOutcome]:
    outcomes = []
    for cell in cells:
        outcomes.append(run_cell(cell, store_url, on_progress=on_progress))
        if on_outcome:
            on_outcome(outcomes[-1])
    return outcomes


def run_ray(
    cells: list[CampaignCell],
    store_url: str,
    address: str,
    on_outcome: OutcomeCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[CellOutcome]:
    """``address``: ``auto`` (the cluster this machine belongs to), ``ray://host:10001`` or
    ``host:port``, or ``local`` (a one-node cluster started here that stands for every target)."""
    try:
        import ray
    except ImportError:
        raise HonedError("--executor ray needs Ray: pip install 'honed[ray]'") from None
    if address == "local":
        ray.init(
            resources={**{cell.resource: 1 for cell in cells}, BENCH_SLOT: 1},
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    else:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        check_cluster([node for node in ray.nodes() if node["Alive"]], cells, store_url)
        remote = ray.remote(_on_ray)
        # Ray sets these in a task from its CPU request; timing workers must see what the caller has.
        threads = {name: os.environ.get(name) for name in THREAD_VARIABLES}
        pending = {
            remote.options(
                num_cpus=0,
                num_gpus=1 if cell.target_spec.device == "cuda" else 0,
                resources={cell.resource: 0.001, BENCH_SLOT: 1},
                max_retries=MAX_RETRIES,
                name=f"honed {cell.model} x {cell.target}",
            ).remote(cell, store_url, threads): cell
            for cell in cells
        }
        return _gather(pending, store_url, on_outcome, on_progress)
    finally:
        ray.shutdown()


def check_cluster(nodes: list[dict], cells: list[CampaignCell], store_url: str) -> None:
    """Every target has a node that can take its cells, and the store is one every node reaches."""
    for cell in {c.resource: c for c in cells}.values():
        there = [n for n in nodes if cell.resource in n["Resources"]]
        if not there:
            labels = sorted({r for n in nodes for r in n["Resources"] if r.startswith("target:")}) or ["none"]
            raise SpecError(
                f"targets.{cell.target}.resource",
                cell.resource,
                f"a resource of a live Ray node (labels in this cluster: {', '.join(labels)})",
                hint=f'start its nodes with ray start --resources \'{{"{cell.resource}": 1, "{BENCH_SLOT}": 1}}\'',
            )
        if cell.target_spec.device == "cuda" and not any(n["Resources"].get("GPU") for n in there):
            raise SpecError(
                f"targets.{cell.target}.device",
                "cuda",
                f"nodes with {cell.resource} that have a GPU "
                "(Ray sees none there): start them where CUDA is, or make the target a cpu one",
            )
        if not any(BENCH_SLOT in n["Resources"] for n in there):
            raise SpecError(
                f"targets.{cell.target}.resource",
                cell.resource,
                f"nodes that also advertise {BENCH_SLOT}: 1 (one timing job per node at a time)",
                hint=f'ray start --resources \'{{"{cell.resource}": 1, "{BENCH_SLOT}": 1}}\'',
            )
    if store_url.startswith("sqlite") and len({n["NodeManagerAddress"] + str(n["NodeID"]) for n in nodes}) > 1:
        raise SpecError(
            "--store",
            store_url,
            "a PostgreSQL URL that every node reaches when the Ray cluster has more "
            f"than one node ({len(nodes)} here): an SQLite file lives on one machine's disk",
        )


def _gather(
    pending: dict, store_url: str, on_outcome: OutcomeCallback | None, on_progress: ProgressCallback | None
) -> list[CellOutcome]:
    """Each cell's outcome as it comes; meanwhile each trial's end, read from the ledger (the
    nodes write it there), goes to ``on_progress``."""
    import ray
    from ray.exceptions import RayError

    from honed.store.database import Store

    store, outcomes = Store(store_url), []
    seen: dict[tuple[str, str], str | None] = {}  # each cell's progress line last reported
    campaign_id = next(iter(pending.values())).campaign_id

    def report_progress() -> None:
        for row in ledger.cells(store, campaign_id):
            if row.progress and seen.get((row.model, row.target)) != row.progress and on_progress:
                on_progress(row.model, row.target, row.progress)
            seen[row.model, row.target] = row.progress

    while pending:
        try:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=PROGRESS_POLL_S)
        except KeyboardInterrupt:  # Ray stops the driver's tasks with it: say so rather than "running"
            for cell in pending.values():
                ledger.finish(store, cell, "failed", error="interrupted: the driver stopped; run it again to resume")
            raise
        report_progress()
        if not ready:
            continue
        cell = pending.pop(ready[0])
        try:
            outcome = ray.get(ready[0])
        except RayError as error:  # the retries are spent: the worker or its node died each time
            message = f"Ray gave up after {MAX_RETRIES + 1} attempts: {str(error).splitlines()[0][:500]}"
            ledger.finish(store, cell, "failed", error=message)
            outcome = CellOutcome(cell.model, cell.target, "failed", MAX_RETRIES + 1, "ray", error=message)
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return outcomes


def _on_ray(cell: CampaignCell, store_url: str, threads: dict[str, str | None]) -> CellOutcome:
    import ray

    for name, value in threads.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return run_cell(cell, store_url, node=ray.get_runtime_context().get_node_id())
