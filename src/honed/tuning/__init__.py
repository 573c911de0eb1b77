"""Tuning: search optimisation recipes under a quality guardrail (see ``tune``)."""

from honed.tuning.plan import SweepPlan, plan_sweep
from honed.tuning.result import Point, Trial, TuneResult
from honed.tuning.search import tune
from honed.tuning.settings import OBJECTIVES, Guardrail, TuneSettings

__all__ = ["OBJECTIVES", "Guardrail", "Point", "SweepPlan", "Trial", "TuneResult", "TuneSettings", "plan_sweep", "tune"]
