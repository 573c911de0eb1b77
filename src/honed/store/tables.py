"""The store's tables: run rows (immutable once written: an update raises), tags, cached peaks,
tune trials and sweeps. Each row keeps its whole versioned document plus the columns that list
and filter it; the arena's and campaigns' tables join the same ``Base``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from honed.core.errors import ImmutableRecordError

JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_series_key", "series_key", "created_at"),)  # a series in time order
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    model_name: Mapped[str] = mapped_column(String(300), index=True)
    model_kind: Mapped[str] = mapped_column(String(50))
    device: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    schema_version: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)
    task: Mapped[str | None] = mapped_column(String(100), index=True)
    recipe_key: Mapped[str | None] = mapped_column(String(64), index=True)
    # What lists, filters and trends read instead of the record (honed.store.run_index); revision 0003.
    recipe_label: Mapped[str | None] = mapped_column(String(300))
    target: Mapped[str | None] = mapped_column(String(200), index=True)
    scenario: Mapped[str | None] = mapped_column(String(200))
    series_key: Mapped[str | None] = mapped_column(String(64))
    environment_key: Mapped[str | None] = mapped_column(String(64))
    stability: Mapped[str | None] = mapped_column(String(20))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON_TYPE)
    previous_id: Mapped[str | None] = mapped_column(String(32))
    change: Mapped[dict[str, Any] | None] = mapped_column(JSON_TYPE)


class TagRow(Base):
    """A name for a run (``honed runs tag``): a baseline to compare against, moved by tagging again."""

    __tablename__ = "run_tags"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PeaksRow(Base):
    __tablename__ = "target_peaks"
    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    peaks: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)


class TrialRow(Base):
    """A tune trial's outcome by its cache key, so a re-run or resumed sweep repeats nothing."""

    __tablename__ = "tune_trials"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sweep_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    trial: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)


class SweepRow(Base):
    """A tune's latest state: rewritten after every trial, so a killed sweep shows how far it got."""

    __tablename__ = "tune_sweeps"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    model_name: Mapped[str] = mapped_column(String(300))
    stop_reason: Mapped[str] = mapped_column(String(500))
    sweep: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)


@event.listens_for(RunRow, "before_update")
def _refuse_update(mapper: Any, connection: Any, target: RunRow) -> None:
    raise ImmutableRecordError(f"run {target.id} is immutable; store a new run instead")
