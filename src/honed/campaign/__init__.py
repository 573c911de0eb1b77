"""Campaigns: models x targets as one repeatable job (``honed campaign run SPEC``).

A spec (``spec.py``) expands into one tune per (model, target) (``plan.py``); an executor runs
them here or on a Ray cluster (``executors.py``); every node writes its runs, trials and the
cell's progress (``ledger.py``) to one store; ``report.py`` turns the sweeps into the
case-study table."""

from __future__ import annotations

from honed.campaign import ledger
from honed.campaign.cell import CellOutcome
from honed.campaign.executors import OutcomeCallback, run_local, run_ray
from honed.campaign.plan import CampaignCell, expand
from honed.campaign.spec import CampaignSpec, load_campaign
from honed.store import Store

__all__ = ["CampaignCell", "CampaignSpec", "CellOutcome", "load_campaign", "run_campaign", "expand"]


def run_campaign(spec: CampaignSpec, store: Store, executor: str = "local", ray_address: str = "auto",
                 fresh: bool = False, on_outcome: OutcomeCallback | None = None) -> tuple[str, list[CellOutcome]]:
    """Runs every cell not yet done (all of them with ``fresh``); returns the campaign id and
    the outcomes of the cells run now. Running it again resumes it: done cells are kept, and a
    cell cut short resumes from the trials it stored."""
    cells = expand(spec)
    ledger.register(store, spec, cells)
    done = {(row.model, row.target) for row in ledger.cells(store, cells[0].campaign_id)
            if row.status == "done" and row.sweep_id}
    todo = [cell.model_copy(update={"fresh": fresh}) for cell in cells if fresh or cell.key not in done]
    if not todo:
        return cells[0].campaign_id, []
    if executor == "ray":
        return cells[0].campaign_id, run_ray(todo, store.url, ray_address, on_outcome)
    return cells[0].campaign_id, run_local(todo, store.url, on_outcome)
