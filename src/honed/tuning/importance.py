"""What a knob search learned, per algorithm: how much of the spread in quality and in speed
across the points it tried each knob explains, by fANOVA (Optuna's importance evaluator, seeded)
over that algorithm's trials. The sweep's report (and so the dashboard's sweep page) shows it.

Quality is the guardrail's drop, known for every point screened; speed is the gain over the base
model, known only for the points that were timed. Importances are relative (they sum to 1) and
need a few points each: with fewer, nothing is said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from honed.optimization import ALGORITHMS
from honed.optimization.space import Knob
from honed.tuning.points import trial_gain
from honed.tuning.result import TuneResult
from honed.tuning.sampler import knob_values

MIN_POINTS = 4  # points of one algorithm with a value, for either importance
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class KnobImportance:
    algorithm: str
    target: str  # "quality drop" or "speed-up"
    points: int
    importances: dict[str, float]  # knob field -> share of the spread it explains, largest first


def knob_importance(result: TuneResult) -> list[KnobImportance]:
    """Each algorithm's knob importances on quality and on speed, where enough points have a value."""
    found = []
    gains = _gains(result)
    for name in sorted({t.recipe[0].algorithm for t in result.trials if len(t.recipe) == 1}):
        algorithm = ALGORITHMS.get(name) if name in ALGORITHMS else None  # a plugin since uninstalled
        if algorithm is None or not algorithm.space:
            continue
        trials = [t for t in result.trials if len(t.recipe) == 1 and t.recipe[0].algorithm == name]
        for target, values in (
            ("quality drop", {t.key: t.quality_drop for t in trials}),
            ("speed-up", {t.key: gains.get(t.key) for t in trials}),
        ):
            space = algorithm.space
            rows = [(knob_values(space, t.recipe[0]), v) for t in trials if (v := values[t.key]) is not None]
            if len(rows) >= MIN_POINTS and (shares := _fanova(algorithm.space, rows)):
                found.append(KnobImportance(name, target, len(rows), shares))
    return found


def _gains(result: TuneResult) -> dict[str, float]:
    """Each timed trial's gain over the base model (> 1: faster or better)."""
    if result.baseline is None:
        return {}
    objective, base = result.settings.goal_objective, result.baseline.key
    gains = {t.key: trial_gain(result.points, base, t.key, objective) for t in result.trials}
    return {key: gain for key, gain in gains.items() if gain is not None}


def _fanova(space: tuple[Knob, ...], rows: list[tuple[dict[str, Any], float]]) -> dict[str, float]:
    """fANOVA importances of the knobs that vary across ``rows``; empty when none does. A choice
    that applies to some points only is "n/a" on the others (a value of its own, as fANOVA's
    users impute conditional parameters); a range must apply to every point to be assessed."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    assessed = [k for k in space if k.choices or all(k.field in values for values, _ in rows)]
    columns = {k.field: [values.get(k.field, NOT_APPLICABLE) for values, _ in rows] for k in assessed}
    varied = [k for k in assessed if len({repr(v) for v in columns[k.field]}) > 1]
    if not varied:
        return {}
    distributions: dict[str, Any] = {}
    for knob in varied:
        if knob.choices:
            extra = [NOT_APPLICABLE] if NOT_APPLICABLE in columns[knob.field] else []
            distributions[knob.field] = CategoricalDistribution([*knob.choices, *extra])
        elif knob.integer:
            low, high = knob.bounds
            distributions[knob.field] = IntDistribution(int(low), int(high), log=knob.log)
        else:
            distributions[knob.field] = FloatDistribution(*knob.bounds, log=knob.log)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for index, (_, value) in enumerate(rows):
        params = {k.field: columns[k.field][index] for k in varied}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=float(value)))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return {field: float(share) for field, share in importances.items()}
