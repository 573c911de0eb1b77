"""``tune --search tpe|random|grid``: a seeded sampler walks the knobs the sweep's algorithms declare.

Quality first: every point is screened on the task's items (all of them, or ``screen_limit``)
before it is timed, so a point that fails the guardrail costs a quality run, not a timing run.
A point that passes is measured in worker processes as in the list search. The search keeps
looking for the fastest passing point until a budget, the patience, the goal or the space runs
out; the starting points are the candidates a list search would try (each algorithm's defaults
and hand-found variants), unless ``starts`` is off.

After each point the search moves along its algorithm's ladders (optimization/space.py) before
sampling again: a point that failed the guardrail is followed by the point with one more knob at
its most faithful value (after a narrow miss the smallest part: q8_0 weights -> their table in f16;
after a miss wider than the allowance the largest), as NNCF's accuracy control reverts the most
sensitive layers to float; one that passed by each point one rung faster. A failing point reached
by a faster move is not followed back: the passing point it came from is known.
"""

from __future__ import annotations

from honed.core.protocol import Step
from honed.optimization import ALGORITHMS, Recipe
from honed.optimization.space import closer, faster
from honed.records.record import QualityResult
from honed.tuning.best_effort import excess_parts, quality_excess
from honed.tuning.loop import Search
from honed.tuning.result import Trial
from honed.tuning.sampler import KnobSampler, Outcome, Proposal

# The objectives a quality pass's items/s can rank points for.
_SPEED_OBJECTIVES = {"p50_ms", "p99_ms", "throughput", "peak_qps"}
RATE_UNITS = {"items_per_s": "items/s", "decode_tokens_per_s": "tokens/s decoding"}
# What a point that passed its screen but could not win is told, and its reason's start.
PASSED = (-1.0, -1.0, -1.0, -1.0)
NOT_TIMED = "not timed"
# A sampler that keeps proposing points already tried once every grid point was tried has
# converged on them: this many in a row ends the search.
MAX_REPEATS = 40


class KnobSearch(Search):
    def _search(self, singles: list[Recipe]) -> str:
        self._stepped: set[tuple[str, int | None]] = set()  # points a faster move reached
        if (stop := self._baselines(singles)) is not None:
            return stop
        algorithms = sorted({r.steps[0].algorithm for r in singles})
        sampler = KnobSampler(
            [ALGORITHMS.get(a) for a in algorithms],
            [r.steps[0] for r in singles],
            self.settings.starts,
            self.threads,
            self.settings.search,
            self.settings.seed,
            self.settings.min_effect,
            self.capabilities,
        )
        learned: dict[tuple[str, int | None], Outcome] = {}
        repeats = 0
        while True:
            if (stop := self.stop.budget_spent(self._recipes_tried)) is not None:
                return stop
            proposal = sampler.ask()
            if proposal is None:
                return f"search space exhausted: every point of the grid was tried ({len(learned)} points)"
            if proposal.key in learned:
                sampler.tell(proposal, learned[proposal.key])
                repeats = 0 if sampler.explore(set(learned)) else repeats + 1
                if repeats >= MAX_REPEATS:
                    return (
                        f"search space exhausted: every grid point was tried and the sampler proposed only points "
                        f"already tried ({repeats} in a row, {len(learned)} points)"
                    )
                continue
            repeats = 0
            trial = self._trial(Recipe(steps=(proposal.step,)), proposal.threads)
            learned[proposal.key] = self._outcome(trial)
            sampler.tell(proposal, learned[proposal.key])
            if self.settings.search != "grid":  # a grid walks every point anyway
                self._move(sampler, proposal, trial, set(learned))
            points = [p for p in self.result.points if p.trial == trial.key]
            if (stop := self.stop.target_reached(trial, points, self.records.get(trial.key))) is not None:
                return stop

    def _move(
        self,
        sampler: KnobSampler,
        proposal: Proposal,
        trial: Trial,
        tried: set[tuple[str, int | None]],
    ) -> None:
        """Ask the ladder moves from this point next: faster ones after a pass, one closer after a miss
        (not after a point a faster move reached: the passing point it came from is known)."""
        step, space = proposal.step, sampler.spaces[proposal.step.algorithm]
        full = Recipe(steps=(step,)).canonical().steps[0].params
        miss = quality_excess(trial, self.judge)
        passed = trial.status == "ok" or (trial.reason or "").startswith(NOT_TIMED)
        if passed:
            moves = faster(space, full)
        elif miss is not None and proposal.key not in self._stepped:
            moves = closer(space, full, wide=miss >= 1)  # missed by more than the bound's own allowance
        else:
            return
        points = [(sampler.step_at(step.algorithm, m), proposal.threads) for m in moves]
        keyed = [(s, (Recipe(steps=(s,)).key, threads)) for s, threads in points]
        chosen = [(s, key) for s, key in keyed if key not in tried][: None if passed else 1]
        if passed:
            self._stepped.update(key for _, key in chosen)
        sampler.prefer([s for s, _ in chosen], proposal.threads)

    def _cannot_win(self, steps: list[Step], screen: QualityResult) -> str | None:
        """A point whose quality pass ran over ``screen_margin`` times slower than the best passing
        point's is not timed: a timing run costs a minute, and the quality pass already ranked it.
        A point a faster move reached is timed all the same: its ladder says it is faster, and a
        quality pass of a few items is too coarse to overrule that (MiniLM, session 25: OpenVINO
        int8-mixed at 16 spans screened at 0.66x int8-weights' rate; the hand variant of it times 1.3x faster)."""
        margin, best = self.settings.screen_margin, self.stop.best
        if margin is None or best is None or self.settings.objective not in _SPEED_OBJECTIVES:
            return None
        if Recipe(steps=tuple(steps)).key in {key for key, _ in self._stepped}:
            return None
        if any(ALGORITHMS.get(s.algorithm).family == "compile" for s in steps):  # its first calls compile
            return None
        key = rate_key(self.result.protocol.scope)
        best_rate, rate = quality_rate(self._trial_of(best.trial), key), screen.timing.get(key)
        if best_rate is None or rate is None or rate * margin >= best_rate:
            return None
        return (
            f"{NOT_TIMED}: its quality pass ran {rate:.3g} {RATE_UNITS[key]}, under 1/{margin:g} of the best passing "
            f"point's ({best_rate:.3g} {RATE_UNITS[key]}, {best.label})"
        )

    def _outcome(self, trial: Trial) -> Outcome:
        if trial.status == "failed":
            return Outcome(failed=True)
        if trial.status == "ok":
            passing = any(p.passes for p in self.result.points if p.trial == trial.key)
            return Outcome(gain=self._gain(trial), excess=(*PASSED[:3], -1.0 if passing else 1.0))
        if (estimate := self._estimated_gain(trial)) is not None:
            return Outcome(gain=estimate, excess=PASSED)
        parts = excess_parts(trial, self.judge)
        if parts is None or not any(p > 0 for p in parts):
            return Outcome(excess=(0.0, 0.0, 0.0, 1.0))  # rejected for another reason: no direction to learn
        return Outcome(excess=(*parts, 0.0))

    def _estimated_gain(self, trial: Trial) -> float | None:
        """A point that passed on quality but was not timed: the best passing point's gain, scaled
        by the ratio of their quality passes' items/s, so the sampler still learns it is slow."""
        best = self.stop.best
        if best is None or not (trial.reason or "").startswith(NOT_TIMED):
            return None
        reference = self._trial_of(best.trial)
        key = rate_key(self.result.protocol.scope)
        rate, best_rate = quality_rate(trial, key), quality_rate(reference, key)
        if reference is None or not rate or not best_rate or not (gain := self._gain(reference)):
            return None
        return gain * rate / best_rate

    def _trial_of(self, key: str) -> Trial | None:
        return next((t for t in [self.result.baseline, *self.result.trials] if t is not None and t.key == key), None)


def rate_key(scope: str) -> str:
    """What ranks a quality pass: its items/s, or in the generate scope its decoding probe's tokens/s."""
    return "decode_tokens_per_s" if scope == "generate" else "items_per_s"


def quality_rate(trial: Trial | None, key: str) -> float | None:
    """A trial's quality pass rate: its screen's, or its measured run's (the base model is not screened)."""
    quality = (trial.screen or trial.quality) if trial is not None else None
    return quality.timing.get(key) if quality is not None and quality.status == "ok" else None
