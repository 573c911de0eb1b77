"""When no recipe passes the guardrail: the closest point, what it missed by, and the knob whose
value moved quality most across the trials of its algorithm, so the user knows where to look."""

from __future__ import annotations

import json
from collections import defaultdict
from statistics import fmean

from honed.tuning.judge import QualityJudge
from honed.tuning.result import Trial


def best_effort(trials: list[Trial], judge: QualityJudge) -> str | None:
    """None when some recipe passed, or when no trial was judged on quality at all."""
    tried = [t for t in trials if t.recipe]
    if any(t.status == "ok" for t in tried):
        return None
    scored = [(excess, t) for t in tried if (excess := quality_excess(t, judge))]
    if not scored:
        return None
    _, closest = min(scored, key=lambda pair: pair[0])
    text = f"no recipe passed the guardrail; the closest was {closest.label}: {closest.reason}"
    knob = _most_moving_knob(closest, scored)
    return text + (f"; {knob}" if knob else "")


def quality_excess(trial: Trial, judge: QualityJudge) -> float | None:
    """How far a rejected trial's quality is past the guardrail, summed over its bounds in units of
    each bound's allowance; None where it was not rejected on quality (a crash, an idle step)."""
    parts = excess_parts(trial, judge)
    if parts is None:
        return None
    return sum(p for p in parts if p > 0) or None


def excess_parts(trial: Trial, judge: QualityJudge) -> tuple[float, float, float] | None:
    """A rejected trial's excess over each bound (``QualityJudge.excess``), on its full run's
    quality where it was timed, else on its screen's; None where neither was scored."""
    if trial.status != "rejected":
        return None
    if trial.quality is not None and trial.quality.status == "ok":
        return judge.excess(trial.quality)
    if trial.screen is not None and trial.screen.status == "ok":
        return judge.excess(trial.screen, screened=True)
    return None


def _most_moving_knob(closest: Trial, scored: list[tuple[float, Trial]]) -> str | None:
    """Among trials of the closest one's algorithm alone: the parameter whose values' mean excess
    differs most, and the value that came closest."""
    algorithm = closest.recipe[0].algorithm
    same = [
        (excess, t.recipe[0].params)
        for excess, t in scored
        if len(t.recipe) == 1 and t.recipe[0].algorithm == algorithm
    ]
    best: tuple[float, str, str] | None = None
    for field in closest.recipe[0].params:
        groups: dict[str, list[float]] = defaultdict(list)
        for excess, params in same:
            groups[json.dumps(params.get(field))].append(excess)
        if len(groups) < 2:
            continue
        means = {value: fmean(excesses) for value, excesses in groups.items()}
        spread = max(means.values()) - min(means.values())
        if best is None or spread > best[0]:
            best = (spread, field, min(means, key=means.__getitem__))
    if best is None:
        return None
    return f"{algorithm}'s {best[1]} moved quality most ({best[2]} came closest)"
