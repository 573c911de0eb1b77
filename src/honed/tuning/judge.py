"""The guardrail, applied to one trial: quality drop against the base model on the guardrail's
metric, the fidelity floor, and coverage (a step that changed almost nothing is rejected)."""

from __future__ import annotations

from dataclasses import dataclass

from honed.records.record import QualityResult
from honed.tuning.settings import Guardrail


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str | None = None
    drop: float | None = None


class QualityJudge:
    def __init__(self, metric: str, guardrail: Guardrail):
        from honed.tasks.metrics import get_metric

        self.metric, self.guardrail = metric, guardrail
        self.quality = get_metric(metric).objective  # its direction: what "drop" means
        self.base: float | None = None  # the base model's value on the whole task
        self.base_screen: float | None = None  # ... and on the screen's items, when fewer (else the same)

    def drop(self, base: float | None, quality: QualityResult) -> float | None:
        value = quality.values.get(self.metric)
        if base is None or value is None:
            return None
        return self.quality.drop(base, value, relative=self.guardrail.relative)

    def screen(self, quality: QualityResult) -> Verdict:
        """The quick screen on a few items: the drop and the floor, against the base's screen."""
        drop = self.drop(self._screen_base, quality)
        if drop is not None and drop > self.guardrail.max_drop:
            return Verdict(False, f"screen on {quality.items} items: {self._drop_text(drop)}", drop)
        if (floor := self.guardrail.below_floor(quality)) is not None:
            return Verdict(False, f"screen on {quality.items} items: {floor}", drop)
        return Verdict(True, drop=drop)

    def full(self, quality: QualityResult) -> Verdict:
        """The measured run's quality: coverage first (a step that did nothing), then drop and floor."""
        drop = self.drop(self.base, quality)
        if idle := [c.warning for c in quality.coverage if c.warning]:
            return Verdict(False, idle[0], drop)
        if drop is not None and drop > self.guardrail.max_drop:
            return Verdict(False, self._drop_text(drop), drop)
        if (floor := self.guardrail.below_floor(quality)) is not None:
            return Verdict(False, floor, drop)
        return Verdict(True, drop=drop)

    def excess(self, quality: QualityResult, screened: bool = False) -> tuple[float, float, float]:
        """How far ``quality`` (a screen's, against the base's screen, or a full run's) is past each
        bound of the guardrail, in units of its allowance (``Guardrail.excess``)."""
        return self.guardrail.excess(self.drop(self._screen_base if screened else self.base, quality), quality)

    @property
    def _screen_base(self) -> float | None:
        """The base model's value on the screen's items: screened on a subset, or its whole-task value."""
        return self.base_screen if self.base_screen is not None else self.base

    def _drop_text(self, drop: float) -> str:
        amount = f"{drop:.1%}" if self.guardrail.relative else f"{drop:.4g}"
        return f"{self.metric} dropped {amount}; the guardrail allows {self.guardrail.describe(self.metric)}"
