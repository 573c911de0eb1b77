"""The sampler of a knob search: Optuna walks the knobs that the sweep's algorithms declare.

One Optuna trial is one recipe of one algorithm: ``algorithm`` is a categorical parameter, then
each knob of that algorithm that applies given the earlier ones (define-by-run, Optuna's own way
to sample a conditional space). The sampler is told each trial's gain over the base model, on a
log grid of ``min_effect`` steps so that noise smaller than a gain that counts does not change the
next proposal, and, as TPE's constraints, how far its quality was past the guardrail: a failing
point that missed by little steers the search more than one that missed by much.

Grid walks each algorithm's own conditional grid (its knobs' choices and its ranges' grid points)
in a seeded order: Optuna's GridSampler takes the product of every parameter of every algorithm.
When TPE proposes a point already tried (it converges, and an algorithm without knobs is one
point), an untried grid point is asked next, so the budget goes on exploring rather than ending.

Each algorithm is drawn once before TPE picks freely (its other knobs sampled): Optuna's random
start-up spreads ten trials over the algorithms at random, and with a dozen of them a short
budget left the one that wins unseen (SmolLM2, session 24: llama.cpp never drawn in 15 minutes).
The runtimes come first: on every row of docs/results.md the recommended recipe was one. The
search's moves along the knobs' ladders (``prefer``) go before anything else.
"""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import dataclass
from typing import Any, cast

from honed.core.protocol import Step
from honed.models.capabilities import Capability
from honed.optimization import Recipe
from honed.optimization.algorithm import Algorithm
from honed.optimization.space import Knob, params_of

# What the search learned from a trial: its gain over the base model where it passed and was
# timed, how far it was past each bound of the guardrail (<= 0: held), or that it failed.
NO_EXCESS = (0.0, 0.0, 0.0, 0.0)
# The order in which each algorithm is first drawn: the families of docs/results.md's recommended recipes first.
START_ORDER = ("runtime", "quantize", "precision", "compile", "factorize", "prune", "distill", "layout")


@dataclass(frozen=True)
class Outcome:
    gain: float | None = None
    excess: tuple[float, ...] = NO_EXCESS  # drop, fidelity floor, KL, constraints (SLO, memory)
    failed: bool = False


@dataclass(frozen=True)
class Proposal:
    trial: Any  # optuna.trial.Trial
    step: Step
    threads: int | None

    @property
    def key(self) -> tuple[str, int | None]:
        return Recipe(steps=(self.step,)).key, self.threads


class KnobSampler:
    def __init__(
        self,
        algorithms: list[Algorithm],
        candidates: list[Step],
        starts: bool,
        threads: tuple[int | None, ...],
        kind: str,
        seed: int,
        min_effect: float,
        capabilities: frozenset[Capability] | None = None,
    ):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.algorithms = {a.name: a for a in sorted(algorithms, key=lambda a: a.name)}
        # Each algorithm's knobs without the values this model refuses (a decoder's int8 activations).
        self.spaces = {n: tuple(k.for_model(capabilities) for k in a.space) for n, a in self.algorithms.items()}
        self.threads, self.min_effect, self.kind = threads, min_effect, kind
        # A candidate's parameters that are not knobs (converter=onnx) hold for every point of its algorithm.
        self.fixed: dict[str, dict[str, Any]] = {}
        for step in candidates:
            knobs = {k.field for k in self.spaces[step.algorithm]}
            self.fixed.setdefault(step.algorithm, {k: v for k, v in step.params.items() if k not in knobs})
        self.points: list[tuple[Step, int | None]] = []  # exact steps, by index
        self.queue: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (fixed values, attributes), asked in order
        self.unexplored = _shuffled([(s, t) for s in self._grid() for t in threads], seed)
        starting = [(s, t) for s in candidates for t in threads] if starts else []
        if kind == "grid":
            starting, self.unexplored = starting + self.unexplored, []
        for step, threads_ in starting:
            self._add(step, threads_)
        if kind != "grid":  # each algorithm without a start drawn once, at a sampled point of its knobs
            started = {s.algorithm for s, _ in starting}
            self.queue += [({"algorithm": n}, {}) for n in self._start_order(seed) if n not in started]
        sampler: Any
        if kind == "tpe":
            with warnings.catch_warnings():  # multivariate and group are "experimental" in Optuna's words
                warnings.simplefilter("ignore")
                sampler = optuna.samplers.TPESampler(
                    seed=seed, multivariate=True, group=True, constraints_func=_excess_of
                )
        else:  # random, and grid, whose every point is enqueued
            sampler = optuna.samplers.RandomSampler(seed=seed)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)

    def ask(self) -> Proposal | None:
        """The next point; None when a grid has none left."""
        if self.kind == "grid" and not self.queue:
            return None
        if self.queue:
            values, attributes = self.queue.pop(0)
            self.study.enqueue_trial(values, user_attrs=attributes)
        with warnings.catch_warnings():  # an enqueued value outside a range is used as it is
            warnings.simplefilter("ignore")
            trial = self.study.ask()
            algorithm = trial.suggest_categorical("algorithm", list(self.algorithms))
            params = params_of(self.spaces[algorithm], lambda knob: _suggest(trial, algorithm, knob))
            threads = cast(
                "int | None",
                trial.suggest_categorical("threads", self.threads) if len(self.threads) > 1 else self.threads[0],
            )
        if (index := trial.user_attrs.get("point")) is not None:
            step, threads = self.points[index]
            return Proposal(trial, step, threads)
        return Proposal(trial, Step(algorithm=algorithm, params={**self.fixed.get(algorithm, {}), **params}), threads)

    def explore(self, tried: set[tuple[str, int | None]]) -> bool:
        """Ask an untried grid point next (after a repeated proposal); False when none is left."""
        while self.unexplored:
            step, threads = self.unexplored.pop(0)
            if (Recipe(steps=(step,)).key, threads) not in tried:
                self._add(step, threads, first=True)
                return True
        return False

    def step_at(self, algorithm: str, full: dict[str, Any]) -> Step:
        """The step of ``algorithm`` at ``full`` parameters (a move's result): its knobs that apply, and
        the candidate's parameters that are not knobs."""
        knobs = {k.field: full[k.field] for k in self.spaces[algorithm] if k.applies(full)}
        return Step(algorithm=algorithm, params={**self.fixed.get(algorithm, {}), **knobs})

    def prefer(self, steps: list[Step], threads: int | None) -> None:
        """Ask these exact points (a move's results) before anything else, in this order."""
        for step in reversed(steps):
            self._add(step, threads, first=True)

    def _add(self, step: Step, threads: int | None, first: bool = False) -> None:
        """An exact point to ask: next (first) or after those already waiting."""
        self.points.append((step, threads))
        entry = (self._fixed_values(step, threads), {"point": len(self.points) - 1})
        if first:
            self.queue.insert(0, entry)
        else:
            self.queue.append(entry)

    def _start_order(self, seed: int) -> list[str]:
        """The algorithms by START_ORDER's family, in a seeded order within one."""
        names = _shuffled(list(self.algorithms), seed)
        return sorted(names, key=lambda n: START_ORDER.index(self.algorithms[n].family))

    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        from optuna.trial import TrialState

        if outcome.failed:
            self.study.tell(proposal.trial, state=TrialState.FAIL)
            return
        proposal.trial.set_user_attr("excess", list(outcome.excess))
        self.study.tell(proposal.trial, self._value(outcome.gain))

    def _value(self, gain: float | None) -> float:
        """log(gain) on a grid of min_effect steps; 0 (the base model's) when not timed."""
        if gain is None or gain <= 0:
            return 0.0
        if self.min_effect <= 0:
            return math.log(gain)
        unit = math.log1p(self.min_effect)
        return round(math.log(gain) / unit) * unit

    def _fixed_values(self, step: Step, threads: int | None) -> dict[str, Any]:
        """An exact point as Optuna's parameters: the algorithm, and each knob that applies given
        the step's parameters (its algorithm's defaults filled in) whose value is in the knob's domain."""
        knobs = knob_values(self.spaces[step.algorithm], step)
        values: dict[str, Any] = {"algorithm": step.algorithm, **{f"{step.algorithm}.{f}": v for f, v in knobs.items()}}
        if len(self.threads) > 1:
            values["threads"] = threads
        return values

    def _grid(self) -> list[Step]:
        steps = []
        for name in self.algorithms:
            for params in _conditional_grid(self.spaces[name], {}):
                steps.append(Step(algorithm=name, params={**self.fixed.get(name, {}), **params}))
        return steps


def knob_values(space: tuple[Knob, ...], step: Step) -> dict[str, Any]:
    """The step's value of each knob that applies given its parameters (its algorithm's defaults
    filled in) and lies in the knob's domain: the point of the space the step is."""
    full = Recipe(steps=(step,)).canonical().steps[0].params
    return {k.field: full[k.field] for k in space if k.applies(full) and k.holds(full.get(k.field))}


def _suggest(trial: Any, algorithm: str, knob: Knob) -> Any:
    name = f"{algorithm}.{knob.field}"
    if knob.choices:
        return trial.suggest_categorical(name, list(knob.choices))
    low, high = knob.bounds
    if knob.integer:
        return trial.suggest_int(name, int(low), int(high), log=knob.log)
    return float(f"{trial.suggest_float(name, low, high, log=knob.log):.3g}")  # a label a person reads


def _conditional_grid(knobs: tuple[Knob, ...], chosen: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of grid points, each knob only where its condition holds."""
    if not knobs:
        return [chosen]
    knob, rest = knobs[0], knobs[1:]
    if not knob.applies(chosen):
        return _conditional_grid(rest, chosen)
    return [point for value in knob.points for point in _conditional_grid(rest, {**chosen, knob.field: value})]


def _shuffled(points: list[Any], seed: int) -> list[Any]:
    points = list(points)
    random.Random(seed).shuffle(points)
    return points


def _excess_of(trial: Any) -> list[float]:
    return trial.user_attrs.get("excess", list(NO_EXCESS))
