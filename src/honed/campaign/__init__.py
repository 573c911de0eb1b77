"""Campaigns: models x targets as one repeatable job (``honed campaign run SPEC``).

A spec (``spec.py``) expands into one tune per (model, target) (``plan.py``); an executor runs
them here or on a Ray cluster (``executors.py``); every node writes its runs, trials and the
cell's progress (``ledger.py``) to one store; ``report.py`` turns the sweeps into the
case-study table."""

from __future__ import annotations

from pathlib import Path

from honed.campaign import ledger
from honed.campaign.cell import CellOutcome, ProgressCallback
from honed.campaign.cells import CampaignCell, expand
from honed.campaign.executors import OutcomeCallback, run_local, run_ray
from honed.campaign.spec import CampaignSpec, load_campaign
from honed.store.database import Store

__all__ = ["CampaignCell", "CampaignSpec", "CellOutcome", "load_campaign", "run_campaign", "expand"]


def run_campaign(
    spec: CampaignSpec,
    store: Store,
    executor: str = "local",
    ray_address: str = "auto",
    fresh: bool = False,
    targets: list[str] | None = None,
    on_outcome: OutcomeCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> tuple[str, list[CellOutcome]]:
    """Runs every cell not yet done (all of them with ``fresh``), of ``targets`` only where given;
    returns the campaign id and the outcomes of the cells run now. Running it again resumes it:
    done cells are kept, and a cell cut short resumes from the trials it stored."""
    cells = expand(spec)
    ledger.register(store, spec, cells)
    cells = [cell for cell in cells if not targets or cell.target in targets]
    done = {
        (row.model, row.target)
        for row in ledger.cells(store, cells[0].campaign_id)
        if row.status == "done" and row.sweep_id
    }
    todo = [cell.model_copy(update={"fresh": fresh}) for cell in cells if fresh or cell.key not in done]
    if not todo:
        return cells[0].campaign_id, []
    if executor == "ray":
        return cells[0].campaign_id, run_ray(todo, _shared_url(store.url), ray_address, on_outcome, on_progress)
    return cells[0].campaign_id, run_local(todo, store.url, on_outcome, on_progress)


def _shared_url(url: str) -> str:
    """An SQLite path made absolute: Ray workers do not start in this directory."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return "sqlite:///" + str(Path(url[len("sqlite:///") :]).expanduser().resolve())
    return url
