"""One campaign cell on whichever node runs it: the ordinary tune (its worker processes, its
trial cache) into the shared store, with the cell's progress kept in the campaign's ledger."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from honed.campaign import ledger
from honed.campaign.cells import CampaignCell
from honed.core.errors import HonedError, Interrupted
from honed.core.protocol import RunSpec
from honed.store.database import Store

# Called with (model, target, what happened) as each trial of a cell ends.
ProgressCallback = Callable[[str, str, str], None]


@dataclass(frozen=True)
class CellOutcome:
    model: str
    target: str
    status: str  # done or failed
    attempt: int
    node: str
    sweep_id: str | None = None
    error: str | None = None


def run_cell(
    cell: CampaignCell, store_url: str, node: str | None = None, on_progress: ProgressCallback | None = None
) -> CellOutcome:
    """Tunes ``cell``. A retried cell resumes: trials stored by an earlier attempt are reused,
    so a node lost mid-trial costs only that trial. A cell that fails says why in the ledger."""
    from honed.tuning.search import tune

    store = Store(store_url)
    where = f"{socket.gethostname()}" + (f" ray:{node[:12]}" if node else "")
    attempt = ledger.start(store, cell, where, os.getpid())
    ended = []

    def trial_ended(kind: str, payload: Any) -> None:
        if kind != "trial":
            return
        trial = payload[0]
        ended.append(trial)
        count = f"{len(ended)} trial" + ("s" if len(ended) > 1 else "")
        text = f"{count}; last {trial.label}: {trial.status}" + (" (stored before)" if trial.cached else "")
        ledger.progress(store, cell, text)
        if on_progress:
            on_progress(cell.model, cell.target, text)

    try:
        spec = RunSpec(
            name=f"{cell.model} x {cell.target}",
            inputs=cell.inputs,
            protocol=cell.protocol,
            target=cell.target_spec,
            task=cell.task,
        )
        result = tune(cell.ref, spec, cell.settings, store=store, on_event=trial_ended, fresh=cell.fresh)
    except Interrupted:
        ledger.finish(store, cell, "failed", error="interrupted")
        raise
    except Exception as error:  # noqa: BLE001  (any failure is the cell's, kept for `campaign status`)
        message = str(error) if isinstance(error, HonedError) else f"{type(error).__name__}: {error}"
        ledger.finish(store, cell, "failed", error=message[:2000])
        return CellOutcome(cell.model, cell.target, "failed", attempt, where, error=message)
    ledger.finish(store, cell, "done", sweep_id=result.id)
    return CellOutcome(cell.model, cell.target, "done", attempt, where, sweep_id=result.id)
