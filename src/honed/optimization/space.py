"""Search spaces: the knobs of an algorithm worth searching, their domains, and when each applies.

An algorithm declares its knobs beside its typed ``Params`` (``Algorithm.space``); the tuner's
sampler (tuning/sampler.py) walks them. A knob is one field of the params with a domain (choices,
an integer or a float range) and, where it only means something in some modes, the values of
earlier knobs under which it applies ("group_size only for int4-weights"). Each knob says why it is
worth a trial: the evidence, so a user can judge whether it holds on their model and CPU.

A categorical or integer knob may also rank some values as a ladder, from the fastest to the most faithful to
the base model (q4_0 < q4_k_m < q8_0 < f16): the search's moves (``closer``, ``faster``) climb it
after a point fails the guardrail and step down it after one passes. A value may be refused for
models of some capabilities (OpenVINO's int8 activations on a decoder): ``Knob.for_model`` drops it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from honed.models.capabilities import Capability

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
    ladder: tuple[Any, ...] = ()  # values from the fastest to the most faithful; others rank below its first
    unsuited: tuple[tuple[Any, frozenset[Capability]], ...] = ()  # (value, a model with any of these refuses it)

    def applies(self, chosen: Mapping[str, Any]) -> bool:
        """Whether this knob means anything given the values ``chosen`` for earlier knobs."""
        return all(chosen.get(field) in values for field, values in self.when)

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is in this knob's domain."""
        if self.choices:
            return value in self.choices
        low, high = self.bounds
        return isinstance(value, (int, float)) and low <= value <= high

    def for_model(self, capabilities: frozenset[Capability] | None) -> Knob:
        """This knob without the values a model of ``capabilities`` refuses (all kept when unknown)."""
        refused = {value for value, caps in self.unsuited if capabilities is not None and caps & capabilities}
        if not refused:
            return self
        kept = tuple(c for c in self.choices if c not in refused)
        return replace(self, choices=kept, ladder=tuple(v for v in self.ladder if v not in refused), unsuited=())

    @property
    def bounds(self) -> tuple[float, float]:
        """A range's (low, high)."""
        if self.low is None or self.high is None:
            raise ValueError(f"knob {self.field!r} is a choice, not a range")
        return self.low, self.high

    def rung(self, value: Any) -> int:
        """A value's place on the ladder: -1 below its first rung (a value it does not rank)."""
        return self.ladder.index(value) if value in self.ladder else -1

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


def choice(
    field: str,
    *values: Any,
    when: Mapping[str, tuple[Any, ...]] | None = None,
    why: str = "",
    ladder: tuple[Any, ...] = (),
    unsuited: Mapping[Any, frozenset[Capability]] | None = None,
) -> Knob:
    return Knob(
        field,
        choices=values,
        when=_condition(when),
        why=why,
        ladder=ladder,
        unsuited=tuple((unsuited or {}).items()),
    )


def int_range(
    field: str,
    low: int,
    high: int,
    *,
    grid: tuple[int, ...],
    log: bool = False,
    when: Mapping[str, tuple[Any, ...]] | None = None,
    why: str = "",
    ladder: tuple[int, ...] = (),
) -> Knob:
    return Knob(
        field, low=low, high=high, integer=True, log=log, grid=grid, when=_condition(when), why=why, ladder=ladder
    )


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


def closer(knobs: tuple[Knob, ...], params: Mapping[str, Any], wide: bool = False) -> list[dict[str, Any]]:
    """The points one move closer to the base model than ``params`` (an algorithm's full parameters):
    one ladder knob at its most faithful value, as NNCF's accuracy control reverts the most sensitive
    layers to float. After a narrow miss the last knob first (the smaller part: q8_0's table in f16),
    after a ``wide`` one the first (the larger lever: q4 weights to f16)."""
    moves = []
    laddered = _laddered(knobs, params)
    for knob in laddered if wide else reversed(laddered):
        if knob.rung(params[knob.field]) < len(knob.ladder) - 1:
            moves.append(_moved(knobs, params, knob, knob.ladder[-1]))
    return moves


def faster(knobs: tuple[Knob, ...], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The points one rung faster than ``params`` on one ladder knob, the first knob (the larger lever) first."""
    moves = []
    for knob in _laddered(knobs, params):
        if (rung := knob.rung(params[knob.field])) > 0:
            moves.append(_moved(knobs, params, knob, knob.ladder[rung - 1]))
    return moves


def _laddered(knobs: tuple[Knob, ...], params: Mapping[str, Any]) -> list[Knob]:
    return [k for k in knobs if k.ladder and k.applies(params) and k.field in params]


def _moved(knobs: tuple[Knob, ...], params: Mapping[str, Any], knob: Knob, value: Any) -> dict[str, Any]:
    """``params`` with ``knob`` at ``value``: one change at a time, so a ladder knob that applies
    only now starts at its most faithful value (q8_0 weights after f16 keep an f16 table)."""
    moved = {**params, knob.field: value}
    for other in knobs:
        if other.ladder and other.applies(moved) and not other.applies(params):
            moved[other.field] = other.ladder[-1]
    return moved


def _condition(when: Mapping[str, tuple[Any, ...]] | None) -> Condition:
    return tuple((field, tuple(values)) for field, values in (when or {}).items())


def _text(value: Any) -> str:
    return "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
