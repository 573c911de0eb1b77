"""Tuning: search optimisation recipes under a quality guardrail (see ``tune``)."""

from honed.tune.result import Point, Trial, TuneResult
from honed.tune.search import tune
from honed.tune.settings import OBJECTIVES, Guardrail, TuneSettings

__all__ = ["OBJECTIVES", "Guardrail", "Point", "Trial", "TuneResult", "TuneSettings", "tune"]
