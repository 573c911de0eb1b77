"""The Matrix page: models x targets, each cell the latest tune's recommended recipe there, its
speed-up over the base model (with an interval where the objective has CIs) and its quality drop."""

from __future__ import annotations

from dataclasses import dataclass

from honed.core.errors import HonedError
from honed.store.database import Store
from honed.tuning.points import Speedup, speedup_with_interval
from honed.tuning.result import TuneResult


@dataclass(frozen=True)
class Cell:
    recipe: str
    speedup: float | None
    speedup_low: float | None
    speedup_high: float | None
    quality_drop: float | None
    objective: str
    satisfied: bool
    sweep_id: str


@dataclass(frozen=True)
class Matrix:
    models: list[str]
    targets: list[str]
    cells: dict[tuple[str, str], Cell]


def build(store: Store, limit: int = 500) -> Matrix:
    cells: dict[tuple[str, str], Cell] = {}
    for row in reversed(store.sweeps(limit=limit)):  # oldest first: a later sweep replaces an earlier cell
        result = TuneResult.model_validate(row.sweep)
        best = result.recommended
        if best is None or result.baseline is None or not result.baseline.run_id:
            continue
        try:
            target = store.get_row(result.baseline.run_id).target or result.target.device
        except HonedError:
            target = result.target.device
        base = next(
            (
                p
                for p in result.points
                if p.trial == result.baseline.key and p.batch_size == best.batch_size and p.threads == best.threads
            ),
            None,
        )
        speedup = speedup_with_interval(base, best, result.settings.goal_objective.better) if base else Speedup()
        trial = next((t for t in result.trials if t.key == best.trial), None)
        cells[(result.model.display_name, target)] = Cell(
            recipe=best.label,
            speedup=speedup.value,
            speedup_low=speedup.low,
            speedup_high=speedup.high,
            quality_drop=trial.quality_drop if trial else 0.0,
            objective=result.settings.goal_objective.what,
            satisfied=result.satisfied,
            sweep_id=result.id,
        )
    return Matrix(sorted({m for m, _ in cells}), sorted({t for _, t in cells}), cells)
