"""The arena's rows (revision 0004): an arena with its contestants, prompts and their outputs;
the pairs shown to voters; one vote per voter and pair."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from honed.store.tables import JSON_TYPE, Base

CHOICES = ("first", "second", "tie", "both_bad")


class ArenaRow(Base):
    __tablename__ = "arenas"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(10))  # text or image
    contestants: Mapped[list[Any]] = mapped_column(JSON_TYPE)  # [{label, model, recipe}]
    prompts: Mapped[list[Any]] = mapped_column(JSON_TYPE)
    outputs: Mapped[list[Any]] = mapped_column(JSON_TYPE)  # [contestant][prompt]: text, or a PNG data URL


class PairRow(Base):
    __tablename__ = "arena_pairs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arena_id: Mapped[str] = mapped_column(String(32), index=True)
    prompt: Mapped[int] = mapped_column(Integer)
    first: Mapped[int] = mapped_column(Integer)  # contestant indices
    second: Mapped[int] = mapped_column(Integer)


class VoteRow(Base):
    __tablename__ = "arena_votes"
    __table_args__ = (UniqueConstraint("pair_id", "voter", name="uq_arena_votes_pair_voter"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arena_id: Mapped[str] = mapped_column(String(32), index=True)
    pair_id: Mapped[int] = mapped_column(Integer, index=True)
    voter: Mapped[str] = mapped_column(String(100))
    choice: Mapped[str] = mapped_column(String(10))  # CHOICES, in the pair's stored order
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
