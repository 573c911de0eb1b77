"""Tuning: search optimisation recipes under a quality guardrail (see ``tune``)."""

from honed.tuning.result import Point, Trial, TuneResult
from honed.tuning.search import tune
from honed.tuning.settings import OBJECTIVES, Guardrail, TuneSettings

__all__ = ["OBJECTIVES", "Guardrail", "Point", "Trial", "TuneResult", "TuneSettings", "tune"]
