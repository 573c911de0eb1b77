"""A quantity with a direction: a tune's objective (p50 latency, throughput, ...), a quality
metric (WER, recall@k, ...) or a compared measurement. It owns its name, unit and which way is
better, so no caller writes ``a < b if better == "lower" else a > b`` again."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

Better = Literal["lower", "higher"]
T = TypeVar("T")


@dataclass(frozen=True)
class Objective:
    name: str
    better: Better
    unit: str = ""
    what: str = ""  # in words, for tables: "latency p50"

    def __post_init__(self) -> None:
        if self.better not in ("lower", "higher"):
            raise ValueError(f"better must be 'lower' or 'higher', not {self.better!r}")

    @property
    def lower_is_better(self) -> bool:
        return self.better == "lower"

    def beats(self, a: float, b: float) -> bool:
        """``a`` is strictly better than ``b``."""
        return a < b if self.lower_is_better else a > b

    def improved(self, change: float) -> bool:
        """A change (after minus before, absolute or relative) in the better direction."""
        return self.beats(change, 0.0)

    def best(self, items: Iterable[T], key: Callable[[T], float] = lambda x: x) -> T:  # type: ignore[assignment,return-value]
        return (min if self.lower_is_better else max)(items, key=key)

    def ranked(self, items: Iterable[T], key: Callable[[T], float]) -> list[T]:
        """Best first."""
        return sorted(items, key=key, reverse=not self.lower_is_better)

    def gain(self, base: float, value: float) -> float:
        """How many times better ``value`` is than ``base`` (> 1: better); both must be > 0."""
        return base / value if self.lower_is_better else value / base

    def reaches(self, value: float, goal: float) -> bool:
        return value <= goal if self.lower_is_better else value >= goal

    def improves(self, candidate: float, best: float, min_effect: float) -> bool:
        """Better than ``best`` by at least ``min_effect``, relative."""
        return self.reaches(candidate, self.within(best, min_effect))

    def within(self, value: float, effect: float) -> float:
        """The bound ``effect`` (relative) better than ``value``: what counts as a real gain over it."""
        return value * (1 - effect) if self.lower_is_better else value * (1 + effect)

    def band(self, value: float, effect: float) -> float:
        """The bound ``effect`` (relative) worse than ``value``: points inside it are as good."""
        return value * (1 + effect) if self.lower_is_better else value * (1 - effect)

    def separated(self, candidate: Sequence[float], best: Sequence[float]) -> bool:
        """Confidence intervals (low, high): ``candidate``'s lies wholly on the better side of ``best``'s."""
        return candidate[1] < best[0] if self.lower_is_better else candidate[0] > best[1]

    def drop(self, base: float, value: float, relative: bool = True) -> float:
        """How much worse ``value`` is than ``base`` (negative: better), as a fraction of |base|
        or in the metric's units."""
        change = value - base if self.lower_is_better else base - value
        if not relative:
            return change + 0.0  # no "-0.0"
        if base == 0:
            return 0.0 if value == base else float("inf")
        return change / abs(base) + 0.0
