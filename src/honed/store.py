"""Where runs live: SQLAlchemy over a SQLite file (default) or PostgreSQL (by URL).

Run rows are immutable: an attempt to update one raises. Each row keeps the whole versioned
record (raw samples included) plus a few columns to list and filter by.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import JSON, DateTime, Integer, String, create_engine, event, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from honed.errors import HonedError, SpecError
from honed.measure.peaks import Peaks
from honed.record import RunRecord
from honed.store_schema import StoreError, configure_sqlite, explain, prepare, retrying

T = TypeVar("T")
__all__ = ["DEFAULT_URL", "ImmutableRecordError", "Store", "StoreError"]

DEFAULT_URL = "sqlite:///honed.db"
_JSON = JSON().with_variant(JSONB(), "postgresql")


class ImmutableRecordError(HonedError):
    pass


class _Base(DeclarativeBase):
    pass


class RunRow(_Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    model_name: Mapped[str] = mapped_column(String(300), index=True)
    model_kind: Mapped[str] = mapped_column(String(50))
    device: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    schema_version: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(_JSON)
    task: Mapped[str | None] = mapped_column(String(100), index=True)
    recipe_key: Mapped[str | None] = mapped_column(String(64), index=True)


class PeaksRow(_Base):
    __tablename__ = "target_peaks"
    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    peaks: Mapped[dict[str, Any]] = mapped_column(_JSON)


class TrialRow(_Base):
    """A tune trial's outcome by its cache key, so a re-run or resumed sweep repeats nothing."""

    __tablename__ = "tune_trials"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sweep_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trial: Mapped[dict[str, Any]] = mapped_column(_JSON)


class SweepRow(_Base):
    """A tune's latest state: rewritten after every trial, so a killed sweep shows how far it got."""

    __tablename__ = "tune_sweeps"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    model_name: Mapped[str] = mapped_column(String(300))
    stop_reason: Mapped[str] = mapped_column(String(500))
    sweep: Mapped[dict[str, Any]] = mapped_column(_JSON)


@event.listens_for(RunRow, "before_update")
def _refuse_update(mapper: Any, connection: Any, target: RunRow) -> None:
    raise ImmutableRecordError(f"run {target.id} is immutable; store a new run instead")


def default_url() -> str:
    return os.environ.get("HONED_STORE", DEFAULT_URL)


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3 is the driver we ship
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
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
            raise SpecError("store", url or default_url(), "a SQLAlchemy URL such as sqlite:///honed.db or "
                            "postgresql://user@host/db", hint=str(error).splitlines()[0]) from None
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

    def _read(self, query: Callable[[Session], T]) -> T:
        try:
            with Session(self._engine) as session:
                return query(session)
        except DBAPIError as error:
            raise explain(error, self.url) from None

    def add(self, record: RunRecord) -> None:
        self._write([RunRow(
            id=record.id, created_at=record.created_at, name=record.name, model_name=record.model.display_name,
            model_kind=record.model.kind, device=record.device, status=record.status, task=record.task,
            recipe_key=record.recipe_key, schema_version=record.schema_version, record=record.model_dump(mode="json"),
        )])

    def get(self, run_id: str) -> RunRecord:
        """A run by id or by a unique prefix of its id."""
        rows = self._read(lambda session: session.scalars(
            select(RunRow).where(RunRow.id.startswith(run_id, autoescape=True)).limit(2)).all())
        if not rows:
            raise HonedError(f"no run with id {run_id!r} in {self.url}; `honed runs list` shows the stored runs")
        if len(rows) > 1:
            raise HonedError(f"run id prefix {run_id!r} is ambiguous; give more characters")
        return RunRecord.model_validate(rows[0].record)

    def list(self, limit: int = 20, model: str | None = None) -> list[RunRow]:
        query = select(RunRow).order_by(RunRow.created_at.desc()).limit(limit)
        if model:
            query = query.where(RunRow.model_name == model)
        return self._read(lambda session: _detached(session, query))

    def sweeps(self, limit: int = 20) -> list[SweepRow]:
        """Tune sweeps, the most recently updated first."""
        return self._read(lambda session: _detached(session, select(SweepRow).order_by(SweepRow.updated_at.desc())
                                                    .limit(limit)))

    def peaks(self, key: str) -> Peaks | None:
        row = self._read(lambda session: session.get(PeaksRow, key))
        return Peaks.model_validate(row.peaks) if row else None

    def save_peaks(self, key: str, peaks: Peaks) -> None:
        self._write([PeaksRow(key=key, created_at=datetime.now(timezone.utc), peaks=peaks.model_dump())], merge=True)

    def trial(self, key: str) -> dict[str, Any] | None:
        row = self._read(lambda session: session.get(TrialRow, key))
        return dict(row.trial) if row else None

    def save_trial(self, key: str, sweep_id: str, trial: dict[str, Any]) -> None:
        self._write([TrialRow(key=key, sweep_id=sweep_id, created_at=datetime.now(timezone.utc), trial=trial)], merge=True)

    def save_sweep(self, sweep_id: str, name: str | None, model_name: str, stop_reason: str, sweep: dict[str, Any]) -> None:
        self._write([SweepRow(id=sweep_id, updated_at=datetime.now(timezone.utc), name=name, model_name=model_name,
                              stop_reason=stop_reason[:500], sweep=sweep)], merge=True)

    def sweep(self, sweep_id: str) -> dict[str, Any]:
        """A sweep by id or unique id prefix."""
        rows = self._read(lambda session: session.scalars(
            select(SweepRow).where(SweepRow.id.startswith(sweep_id, autoescape=True)).limit(2)).all())
        if not rows:
            raise HonedError(f"no tune sweep with id {sweep_id!r} in {self.url}; `honed sweeps` lists them")
        if len(rows) > 1:
            raise HonedError(f"sweep id prefix {sweep_id!r} is ambiguous; give more characters")
        return dict(rows[0].sweep)

    def dispose(self) -> None:
        self._engine.dispose()


def _detached(session: Session, query: Any) -> list[Any]:
    """Rows usable after their session closes."""
    found = list(session.scalars(query).all())
    session.expunge_all()
    return found
