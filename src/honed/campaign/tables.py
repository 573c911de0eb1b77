"""The campaign's rows (revision 0005): a campaign with its spec and software, and one row per
(model, target) cell saying where its tune stands, which node ran it and which sweep it wrote."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from honed.store.tables import JSON_TYPE, Base

STATUSES = ("pending", "running", "done", "failed")


class CampaignRow(Base):
    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)
    software: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)


class CellRow(Base):
    __tablename__ = "campaign_cells"
    campaign_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    node: Mapped[str | None] = mapped_column(String(200), nullable=True)  # host and Ray node of the last attempt
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sweep_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the last trial, as it ends
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON_TYPE)  # algorithm -> why not, as planned
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
