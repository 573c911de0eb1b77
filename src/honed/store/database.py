"""Where runs live: SQLAlchemy over a SQLite file (default) or PostgreSQL (by URL).

Run rows are immutable: an attempt to update one raises. Each row keeps the whole versioned
record (raw samples included) plus a few columns to list and filter by.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, defer

from honed.core.errors import HonedError, ImmutableRecordError, SpecError, StoreError
from honed.meters.peaks import Peaks
from honed.records.record import RunRecord
from honed.store.run_index import index_of
from honed.store.schema import configure_sqlite, explain, prepare, retrying
from honed.store.tables import PeaksRow, RunRow, SweepRow, TagRow, TrialRow

T = TypeVar("T")
__all__ = ["DEFAULT_URL", "ImmutableRecordError", "Store", "StoreError"]

DEFAULT_URL = "sqlite:///honed.db"


def default_url() -> str:
    return os.environ.get("HONED_STORE", DEFAULT_URL)


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3 is the driver we ship
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return url
    if "://" not in url:  # a bare path means a SQLite file
        Path(url).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{url}"
    return url


class Store:
    """Every method is one transaction; a failure leaves the store as it was and raises StoreError."""

    def __init__(self, url: str | None = None):
        self.url = normalise_url(url or default_url())
        try:
            self._engine = create_engine(self.url)
        except Exception as error:
            raise SpecError(
                "store",
                url or default_url(),
                "a SQLAlchemy URL such as sqlite:///honed.db or postgresql://user@host/db",
                hint=str(error).splitlines()[0],
            ) from None
        if self._engine.dialect.name == "sqlite":
            configure_sqlite(self._engine)
        try:
            prepare(self._engine, self.url)
        except DBAPIError as error:
            raise explain(error, self.url) from None

    def _write(self, rows: list[Any], merge: bool = False) -> None:
        def attempt() -> None:
            with Session(self._engine) as session, session.begin():
                for row in rows:
                    session.merge(row) if merge else session.add(row)

        try:
            retrying(attempt, upsert=merge)
        except IntegrityError:
            raise ImmutableRecordError(f"run {rows[0].id} is already stored; records are immutable") from None
        except DBAPIError as error:
            raise explain(error, self.url) from None

    def transaction(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in one write transaction, run again when another writer got in the way."""

        def attempt() -> T:
            with Session(self._engine) as session, session.begin():
                return work(session)

        try:
            return retrying(attempt, upsert=False)
        except DBAPIError as error:
            raise explain(error, self.url) from None

    def read(self, query: Callable[[Session], T]) -> T:
        """One read-only transaction: ``query(session)``'s answer (rows detached by the caller)."""
        try:
            with Session(self._engine) as session:
                return query(session)
        except DBAPIError as error:
            raise explain(error, self.url) from None

    def add(self, record: RunRecord) -> None:
        """Store a run, indexed, with its change from the comparable run stored before it."""
        from honed.store.tracking import change_since

        index = index_of(record)
        previous = self.previous(record, index.series_key)
        self._write(
            [
                RunRow(
                    id=record.id,
                    created_at=record.created_at,
                    name=record.name,
                    model_name=record.model.display_name,
                    model_kind=record.model.kind,
                    device=record.device,
                    status=record.status,
                    task=record.task,
                    recipe_key=record.recipe_key,
                    schema_version=record.schema_version,
                    record=record.model_dump(mode="json"),
                    recipe_label=index.recipe_label,
                    target=index.target,
                    scenario=index.scenario,
                    series_key=index.series_key,
                    environment_key=index.environment_key,
                    stability=index.stability,
                    summary=index.summary,
                    previous_id=previous.id if previous else None,
                    change=change_since(previous, record) if previous else None,
                )
            ]
        )

    def previous(self, record: RunRecord, series_key: str | None = None) -> RunRecord | None:
        """The latest comparable run (same series) created before this one that measured something."""
        key = series_key or index_of(record).series_key
        query = (
            select(RunRow.id)
            .where(
                RunRow.series_key == key,
                RunRow.created_at < record.created_at,
                RunRow.status != "failed",
                RunRow.id != record.id,
            )
            .order_by(RunRow.created_at.desc())
            .limit(1)
        )
        found = self.read(lambda session: session.scalars(query).first())
        return self.get(found) if found else None

    def judged_runs(
        self, model_name: str, recipe_key: str, task: str, since: datetime, limit: int = 10
    ) -> list[RunRecord]:
        """Runs of one model and recipe on one task, judged and not contended, since ``since``, the
        newest first (the candidates a tune may reuse as its baseline)."""
        query = (
            select(RunRow.record)
            .where(
                RunRow.model_name == model_name,
                RunRow.recipe_key == recipe_key,
                RunRow.task == task,
                RunRow.status == "ok",
                RunRow.stability.in_(("stable", "unstable")),
                RunRow.created_at >= since,
            )
            .order_by(RunRow.created_at.desc())
            .limit(limit)
        )
        return [RunRecord.model_validate(r) for r in self.read(lambda session: session.scalars(query).all())]

    def get_row(self, run_id: str) -> RunRow:
        """A run's index row (no record), by its full id."""
        row = self.read(
            lambda session: detached(session, select(RunRow).options(defer(RunRow.record)).where(RunRow.id == run_id))
        )
        if not row:
            raise HonedError(f"no run with id {run_id!r} in {self.url}; `honed runs list` shows the stored runs")
        return row[0]

    def tag(self, run_id: str, name: str) -> str:
        """Name a run (a full id or unique prefix); a name names one run, so tagging again moves it."""
        if not name or len(name) > 100 or not all(c.isalnum() or c in "-_." for c in name):
            raise SpecError("tag", name, "1-100 letters, digits, '-', '_' or '.'")
        run = self.get(run_id)
        self._write([TagRow(name=name, run_id=run.id, created_at=datetime.now(timezone.utc))], merge=True)
        return run.id

    def tags(self) -> dict[str, str]:
        """Every tag and the run it names."""
        rows = self.read(lambda session: session.execute(select(TagRow.name, TagRow.run_id)).all())
        return {name: run_id for name, run_id in rows}

    def resolve(self, reference: str) -> RunRecord:
        """A run by tag, full id or unique id prefix."""
        tagged = self.tags().get(reference)
        return self.get(tagged or reference)

    def get(self, run_id: str) -> RunRecord:
        """A run by id or by a unique prefix of its id."""
        rows = self.read(
            lambda session: session.scalars(
                select(RunRow).where(RunRow.id.startswith(run_id, autoescape=True)).limit(2)
            ).all()
        )
        if not rows:
            raise HonedError(f"no run with id {run_id!r} in {self.url}; `honed runs list` shows the stored runs")
        if len(rows) > 1:
            raise HonedError(f"run id prefix {run_id!r} is ambiguous; give more characters")
        return RunRecord.model_validate(rows[0].record)

    def list(self, limit: int = 20, model: str | None = None) -> list[RunRow]:
        query = select(RunRow).options(defer(RunRow.record)).order_by(RunRow.created_at.desc()).limit(limit)
        if model:
            query = query.where(RunRow.model_name == model)
        return self.read(lambda session: detached(session, query))

    def sweeps(self, limit: int = 20) -> builtins.list[SweepRow]:  # `list` here is Store.list
        """Tune sweeps, the most recently updated first."""
        return self.read(
            lambda session: detached(session, select(SweepRow).order_by(SweepRow.updated_at.desc()).limit(limit))
        )

    def peaks(self, key: str) -> Peaks | None:
        row = self.read(lambda session: session.get(PeaksRow, key))
        return Peaks.model_validate(row.peaks) if row else None

    def save_peaks(self, key: str, peaks: Peaks) -> None:
        self._write([PeaksRow(key=key, created_at=datetime.now(timezone.utc), peaks=peaks.model_dump())], merge=True)

    def trial(self, key: str) -> dict[str, Any] | None:
        row = self.read(lambda session: session.get(TrialRow, key))
        return dict(row.trial) if row else None

    def save_trial(self, key: str, sweep_id: str, trial: dict[str, Any]) -> None:
        self._write(
            [TrialRow(key=key, sweep_id=sweep_id, created_at=datetime.now(timezone.utc), trial=trial)], merge=True
        )

    def save_sweep(
        self, sweep_id: str, name: str | None, model_name: str, stop_reason: str, sweep: dict[str, Any]
    ) -> None:
        self._write(
            [
                SweepRow(
                    id=sweep_id,
                    updated_at=datetime.now(timezone.utc),
                    name=name,
                    model_name=model_name,
                    stop_reason=stop_reason[:500],
                    sweep=sweep,
                )
            ],
            merge=True,
        )

    def sweep(self, sweep_id: str) -> dict[str, Any]:
        """A sweep by id or unique id prefix."""
        rows = self.read(
            lambda session: session.scalars(
                select(SweepRow).where(SweepRow.id.startswith(sweep_id, autoescape=True)).limit(2)
            ).all()
        )
        if not rows:
            raise HonedError(f"no tune sweep with id {sweep_id!r} in {self.url}; `honed sweeps list` lists them")
        if len(rows) > 1:
            raise HonedError(f"sweep id prefix {sweep_id!r} is ambiguous; give more characters")
        return dict(rows[0].sweep)

    def dispose(self) -> None:
        self._engine.dispose()


def detached(session: Session, query: Any) -> list[Any]:
    """Rows usable after their session closes."""
    found = list(session.scalars(query).all())
    session.expunge_all()
    return found
