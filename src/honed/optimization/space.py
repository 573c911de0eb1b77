"""Search spaces: the knobs of an algorithm worth searching, their domains, and when each applies.

An algorithm declares its knobs beside its typed ``Params`` (``Algorithm.space``); the tuner's
sampler (tuning/sampler.py) walks them. A knob is one field of the params with a domain (choices,
an integer or a float range) and, where it only means something in some modes, the values of
earlier knobs under which it applies ("group_size only for int4-weights"). Each knob says why it is
worth a trial: the evidence, so a user can judge whether it holds on their model and CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Condition = tuple[tuple[str, tuple[Any, ...]], ...]


@dataclass(frozen=True)
class Knob:
    field: str  # a field of the algorithm's Params
    choices: tuple[Any, ...] = ()  # a categorical domain, or
    low: float | None = None  # ... a range [low, high]
    high: float | None = None
    integer: bool = False
    log: bool = False  # sample the range on a log scale
    grid: tuple[Any, ...] = ()  # the points a grid search takes from a range
    when: Condition = ()  # (field, allowed values) of earlier knobs: all must hold for this one to apply
    why: str = ""

    def applies(self, chosen: Mapping[str, Any]) -> bool:
        """Whether this knob means anything given the values ``chosen`` for earlier knobs."""
        return all(chosen.get(field) in values for field, values in self.when)

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is in this knob's domain."""
        if self.choices:
            return value in self.choices
        return isinstance(value, (int, float)) and self.low <= value <= self.high

    @property
    def points(self) -> tuple[Any, ...]:
        """The values a grid search tries."""
        return self.choices or self.grid

    def describe(self) -> str:
        """The domain in words, for `honed algorithms`: 'quantization in none|int8', 'amount 0.05..0.6'."""
        if self.choices:
            domain = f"{self.field} in {'|'.join(_text(c) for c in self.choices)}"
        else:
            domain = f"{self.field} {_text(self.low)}..{_text(self.high)}" + (" (log)" if self.log else "")
        conditions = ", ".join(f"{f} in {'|'.join(_text(v) for v in values)}" for f, values in self.when)
        return domain + (f" when {conditions}" if conditions else "")


def choice(field: str, *values: Any, when: Mapping[str, tuple[Any, ...]] | None = None, why: str = "") -> Knob:
    return Knob(field, choices=values, when=_condition(when), why=why)


def int_range(
    field: str,
    low: int,
    high: int,
    *,
    grid: tuple[int, ...],
    log: bool = False,
    when: Mapping[str, tuple[Any, ...]] | None = None,
    why: str = "",
) -> Knob:
    return Knob(field, low=low, high=high, integer=True, log=log, grid=grid, when=_condition(when), why=why)


def float_range(
    field: str,
    low: float,
    high: float,
    *,
    grid: tuple[float, ...],
    log: bool = False,
    when: Mapping[str, tuple[Any, ...]] | None = None,
    why: str = "",
) -> Knob:
    return Knob(field, low=low, high=high, log=log, grid=grid, when=_condition(when), why=why)


def params_of(knobs: tuple[Knob, ...], pick: Any) -> dict[str, Any]:
    """Walk ``knobs`` in order, asking ``pick(knob)`` for a value of each that applies given the
    values picked before it (define-by-run, as Optuna samples a conditional space)."""
    chosen: dict[str, Any] = {}
    for knob in knobs:
        if knob.applies(chosen):
            chosen[knob.field] = pick(knob)
    return chosen


def _condition(when: Mapping[str, tuple[Any, ...]] | None) -> Condition:
    return tuple((field, tuple(values)) for field, values in (when or {}).items())


def _text(value: Any) -> str:
    return "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
