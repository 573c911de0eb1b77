"""Voting and ratings. A voter sees each pair once, blind (no names) and in an order and sides
of their own (a stable shuffle keyed by voter and pair). Ratings are Bradley-Terry strengths
(choix's ILSR), a tie or "both bad" counted as half a win each way, with percentile bootstrap
CIs over the votes, on the Elo scale (1000 + 400 log10 of the strength)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from honed.arena.tables import CHOICES, ArenaRow, PairRow, VoteRow
from honed.core.errors import HonedError, SpecError
from honed.store.database import Store

BOOTSTRAP_RESAMPLES = 500
MAX_VOTER = 100


def _key(voter: str, pair_id: int) -> bytes:
    return hashlib.sha256(f"{voter}\0{pair_id}".encode()).digest()


def swapped(voter: str, pair_id: int) -> bool:
    """Whether this voter sees the pair's second output on the left."""
    return bool(_key(voter, pair_id)[0] & 1)


def check_voter(voter: str) -> str:
    voter = voter.strip()
    if not 1 <= len(voter) <= MAX_VOTER or not voter.isprintable():
        raise SpecError("arena.voter", voter, f"a name of 1-{MAX_VOTER} printable characters")
    return voter


def arena(store: Store, arena_id: str) -> ArenaRow:
    found = store.read(lambda session: _detached(session.get(ArenaRow, arena_id), session))
    if found is None:
        raise HonedError(f"no arena with id {arena_id!r} in {store.url}; `honed arena list` shows them")
    return found


def arenas(store: Store) -> list[ArenaRow]:
    def read(session: Session) -> list[ArenaRow]:
        rows = list(session.scalars(select(ArenaRow).order_by(ArenaRow.created_at.desc())).all())
        session.expunge_all()
        return rows

    return store.read(read)


def _detached(row, session: Session):
    if row is not None:
        session.expunge(row)
    return row


def next_pair(store: Store, arena_id: str, voter: str) -> tuple[PairRow | None, int, int]:
    """The next pair this voter has not voted on (None when done), and how many are left of how many."""

    def read(session: Session) -> tuple[PairRow | None, int, int]:
        pairs = list(session.scalars(select(PairRow).where(PairRow.arena_id == arena_id)).all())
        voted = set(
            session.scalars(select(VoteRow.pair_id).where(VoteRow.arena_id == arena_id, VoteRow.voter == voter)).all()
        )
        left = sorted((p for p in pairs if p.id not in voted), key=lambda p: _key(voter, p.id))
        session.expunge_all()
        return (left[0] if left else None), len(left), len(pairs)

    return store.read(read)


def vote(store: Store, arena_id: str, pair_id: int, voter: str, side: str) -> None:
    """``side`` as the voter saw it: left, right, tie or both_bad."""
    voter = check_voter(voter)
    if side not in ("left", "right", "tie", "both_bad"):
        raise SpecError("arena.choice", side, "left, right, tie or both_bad")
    choice = (
        side if side in ("tie", "both_bad") else ("first" if (side == "left") != swapped(voter, pair_id) else "second")
    )

    def write(session: Session) -> None:
        pair = session.get(PairRow, pair_id)
        if pair is None or pair.arena_id != arena_id:
            raise SpecError("arena.pair", pair_id, f"a pair of arena {arena_id}")
        if session.scalar(select(VoteRow.id).where(VoteRow.pair_id == pair_id, VoteRow.voter == voter)):
            raise HonedError(f"{voter} has already voted on this pair; each voter sees each pair once")
        session.add(
            VoteRow(
                arena_id=arena_id, pair_id=pair_id, voter=voter, choice=choice, created_at=datetime.now(timezone.utc)
            )
        )

    store.transaction(write)


@dataclass(frozen=True)
class Rating:
    label: str
    rating: float
    low: float
    high: float
    wins: float  # ties count half
    votes: int


@dataclass(frozen=True)
class Ratings:
    ratings: list[Rating]  # best first
    win_rate: list[list[float | None]]  # [i][j]: how often i beat j (ties half), by contestant order
    labels: list[str]
    votes: int
    voters: int


def _comparisons(votes: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """(winner, loser) pairs for choix, which weighs each alike: a decided vote counts twice and
    a tie or both-bad vote once each way, so that a tie is half a win for each side."""
    data = []
    for first, second, choice in votes:
        if choice == "first":
            data += [(first, second)] * 2
        elif choice == "second":
            data += [(second, first)] * 2
        else:
            data += [(first, second), (second, first)]
    return data


def _strengths(count: int, votes: list[tuple[int, int, str]]) -> np.ndarray:
    import choix

    params = choix.ilsr_pairwise(
        count, _comparisons(votes), alpha=0.01
    )  # a little ridge: a disconnected graph still fits
    return 1000 + 400 / math.log(10) * (params - params.mean())


def ratings(store: Store, arena_id: str, seed: int = 0) -> Ratings:
    found = arena(store, arena_id)
    labels = [c["label"] for c in found.contestants]
    rows = store.read(
        lambda session: session.execute(
            select(PairRow.first, PairRow.second, VoteRow.choice, VoteRow.voter)
            .join(PairRow, PairRow.id == VoteRow.pair_id)
            .where(VoteRow.arena_id == arena_id)
        ).all()
    )
    votes = [(first, second, choice) for first, second, choice, _ in rows]
    count = len(labels)
    wins, decided = np.zeros((count, count)), np.zeros((count, count))
    for first, second, choice in votes:
        share = {"first": 1.0, "second": 0.0}.get(choice, 0.5)
        wins[first, second] += share
        wins[second, first] += 1 - share
        decided[first, second] += 1
        decided[second, first] += 1
    if votes:
        centre = _strengths(count, votes)
        rng = np.random.default_rng(seed)
        draws = np.array(
            [
                _strengths(count, [votes[i] for i in rng.integers(0, len(votes), len(votes))])
                for _ in range(BOOTSTRAP_RESAMPLES)
            ]
        )
        low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    else:
        centre = low = high = np.full(count, 1000.0)
    table = [
        Rating(labels[i], float(centre[i]), float(low[i]), float(high[i]), float(wins[i].sum()), int(decided[i].sum()))
        for i in range(count)
    ]
    rate = [[float(wins[i, j] / decided[i, j]) if decided[i, j] else None for j in range(count)] for i in range(count)]
    return Ratings(sorted(table, key=lambda r: -r.rating), rate, labels, len(votes), len({r[3] for r in rows}))


__all__ = ["CHOICES", "Rating", "Ratings", "arena", "arenas", "check_voter", "next_pair", "ratings", "swapped", "vote"]
