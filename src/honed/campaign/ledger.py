"""Where a campaign stands, in the store every node writes to: the campaign once, and each
(model, target) cell's status, attempts, node and sweep as its tune goes."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from honed.campaign.cells import CampaignCell, software
from honed.campaign.spec import CampaignSpec
from honed.campaign.tables import CampaignRow, CellRow
from honed.core.errors import HonedError
from honed.store.database import Store, detached


def register(store: Store, spec: CampaignSpec, cells: list[CampaignCell]) -> None:
    """The campaign and its cells, pending, unless already there (a rerun keeps what was done)."""
    now = datetime.now(timezone.utc)

    def work(session: Session) -> None:
        campaign_id = cells[0].campaign_id
        if session.get(CampaignRow, campaign_id) is None:
            session.add(
                CampaignRow(
                    id=campaign_id,
                    name=spec.name,
                    created_at=now,
                    spec=spec.model_dump(mode="json"),
                    software=software(),
                )
            )
        for cell in cells:
            if session.get(CellRow, (campaign_id, cell.model, cell.target)) is None:
                session.add(
                    CellRow(
                        campaign_id=campaign_id,
                        model=cell.model,
                        target=cell.target,
                        status="pending",
                        attempts=0,
                        skipped=cell.skipped,
                        updated_at=now,
                    )
                )

    store.transaction(work)


def start(store: Store, cell: CampaignCell, node: str, pid: int) -> int:
    """Marks the cell running on ``node``; returns which attempt this is (Ray retries count)."""

    def work(session: Session) -> int:
        row = session.get(CellRow, (cell.campaign_id, cell.model, cell.target), with_for_update=True)
        if row is None:
            raise HonedError(f"campaign {cell.campaign_id} has no cell {cell.model} x {cell.target}: register it first")
        row.status, row.node, row.pid, row.error, row.progress = "running", node[:200], pid, None, None
        row.attempts += 1
        row.updated_at = datetime.now(timezone.utc)
        return row.attempts

    return store.transaction(work)


def progress(store: Store, cell: CampaignCell, text: str) -> None:
    _update(store, cell, progress=text[:200])


def finish(
    store: Store, cell: CampaignCell, status: str, sweep_id: str | None = None, error: str | None = None
) -> None:
    _update(store, cell, status=status, sweep_id=sweep_id, error=error, pid=None)


def _update(store: Store, cell: CampaignCell, **fields: object) -> None:
    def work(session: Session) -> None:
        row = session.get(CellRow, (cell.campaign_id, cell.model, cell.target), with_for_update=True)
        for name, value in {**fields, "updated_at": datetime.now(timezone.utc)}.items():
            setattr(row, name, value)

    store.transaction(work)


def progress_counts(rows: list) -> dict[str, int]:
    """Cells by status (rows of the ledger or of a report), in the order a reader asks about."""
    counts = {status: 0 for status in ("done", "running", "pending", "failed")}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


def campaign(store: Store, campaign_id: str) -> CampaignRow:
    """A campaign by id or unique id prefix."""
    rows = store.read(
        lambda session: detached(
            session, select(CampaignRow).where(CampaignRow.id.startswith(campaign_id, autoescape=True)).limit(2)
        )
    )
    if len(rows) != 1:
        found = "no campaign" if not rows else "more than one campaign"
        raise HonedError(f"{found} with id {campaign_id!r} in {store.url}; `honed campaign status` lists them")
    return rows[0]


def campaigns(store: Store, limit: int = 20) -> list[CampaignRow]:
    return store.read(
        lambda session: detached(session, select(CampaignRow).order_by(CampaignRow.created_at.desc()).limit(limit))
    )


def cells(store: Store, campaign_id: str) -> list[CellRow]:
    return store.read(lambda session: detached(session, select(CellRow).where(CellRow.campaign_id == campaign_id)))
