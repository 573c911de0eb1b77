"""What a tune searches for: the objective, the quality guardrail, constraints and budgets."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from honed.core.objective import Objective
from honed.core.validation import Frozen
from honed.optimization.recipe import Step
from honed.records.record import QualityResult

# What a tune can optimise, read from each batch size's results (tuning/points.py).
OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("p50_ms", "lower", "ms", "latency p50"),
        Objective("p99_ms", "lower", "ms", "latency p99"),
        Objective("throughput", "higher", "items/s", "items per second"),
        Objective("peak_rss", "lower", "MiB", "peak resident memory"),
        Objective("energy", "lower", "J", "joules per item"),
        Objective("cost", "lower", "USD", "USD per million items"),
        Objective("peak_qps", "higher", "q/s", "peak queries/s under the p99 SLO"),
    )
}


class Guardrail(Frozen):
    """The most quality a candidate may lose against the base model, on ``metric`` (default:
    the task's primary metric). The direction comes from the metric itself."""

    metric: str | None = Field(default=None, description="the task metric guarded (default: the task's primary)")
    max_drop: float = Field(default=0.05, ge=0, description="relative fraction, or metric units when relative = false")
    relative: bool = Field(default=True, description="max_drop as a fraction of the base (else in metric units)")
    min_cosine: float = Field(
        default=0.99,
        ge=0,
        le=1,
        description="fidelity floor: the mean cosine of each item's "
        "outputs to the base model's, on the task's inputs, must reach this (0 turns it off); "
        "a small task can saturate while the outputs drift",
    )
    max_kl: float | None = Field(
        default=None,
        ge=0,
        description="most mean KL divergence (nats) of the candidate's output distribution from the "
        "base's on the task's items: a language model's next-token distributions on the "
        "language-modeling task's real text (llama.cpp's near-lossless q8_0 stays near 0.01); "
        "None: not checked",
    )

    def describe(self, metric: str) -> str:
        amount = f"{self.max_drop:.1%} relative" if self.relative else f"{self.max_drop:g} absolute"
        floor = f", output cosine to the base >= {self.min_cosine:g}" if self.min_cosine else ""
        kl = f", mean KL from the base <= {self.max_kl:g}" if self.max_kl is not None else ""
        return f"{metric} may drop at most {amount}{floor}{kl}"

    def below_floor(self, quality: QualityResult) -> str | None:
        """Why ``quality``'s agreement with the base breaks the fidelity floor or the KL bound, or None."""
        cosine = agreement(quality, "output_cosine")
        if self.min_cosine and cosine is not None and cosine < self.min_cosine:
            return f"output cosine to the base model {cosine:.4f} is below the fidelity floor {self.min_cosine:g}"
        if self.max_kl is None:
            return None
        kl = agreement(quality, "logits_kl")
        if kl is None:
            return f"the guardrail's max_kl needs logits_kl, which task {quality.task!r} does not measure"
        if kl > self.max_kl:
            return f"mean KL divergence from the base model {kl:.4f} is above the guardrail's max_kl {self.max_kl:g}"
        return None

    def excess(self, drop: float | None, quality: QualityResult) -> tuple[float, float, float]:
        """How far ``quality`` is past each bound, in units of that bound's allowance (<= 0: it holds):
        the drop (of ``max_drop``), the fidelity floor (of 1 - ``min_cosine``), the KL (of ``max_kl``).
        A search ranks failing points by their sum: the closest one misses by least."""
        cosine, kl = agreement(quality, "output_cosine"), agreement(quality, "logits_kl")
        return (
            (drop - self.max_drop) / (self.max_drop or 1.0) if drop is not None else 0.0,
            (self.min_cosine - cosine) / ((1 - self.min_cosine) or 1.0)
            if self.min_cosine and cosine is not None
            else 0.0,
            (kl - self.max_kl) / (self.max_kl or 1.0) if self.max_kl is not None and kl is not None else 0.0,
        )


def agreement(quality: QualityResult, name: str) -> float | None:
    """An agreement measure with the base (output_cosine, logits_kl), wherever the task reported it."""
    return quality.agreement.get(name, quality.values.get(name))


class TuneSettings(Frozen):
    objective: Literal["p50_ms", "p99_ms", "throughput", "peak_rss", "energy", "cost", "peak_qps"] = Field(
        default="p50_ms", description="what the search improves, read at the best batch size"
    )
    guardrail: Guardrail = Field(default_factory=Guardrail, description="the quality a candidate may lose")
    goal: float | None = Field(
        default=None, description="stop as soon as a passing candidate reaches this objective value"
    )
    latency_slo_ms: float | None = Field(
        default=None, gt=0, validate_default=True, description="p99 at the chosen batch size must stay below"
    )
    memory_budget_mib: float | None = Field(default=None, gt=0, description="peak resident memory must stay below")
    candidates: tuple[str | Step, ...] | None = Field(
        default=None,
        description="algorithms to try, by name (default parameters) or as steps with parameters "
        "(a name twice with different parameters is two candidates); None = every one available",
    )
    exclude: tuple[str, ...] = Field(default=(), description="algorithms left out of the search")
    max_steps: int = Field(default=2, ge=1, le=4, description="most algorithms combined in one recipe")
    threads: tuple[int, ...] = Field(default=(), description="thread counts to sweep; empty = the protocol's")
    max_trials: int = Field(default=24, ge=1, description="trials after the baseline")
    time_budget_s: float | None = Field(default=None, gt=0, description="seconds; no trial starts after this")
    patience: int = Field(
        default=6, ge=1, description="stop after this many measured trials without a significant gain"
    )
    contention_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        description="measure a trial again, up to this many times, "
        "when other work took the CPU while it was timed (its stability is 'contended')",
    )
    min_effect: float = Field(default=0.02, ge=0, lt=1, description="smallest relative gain that counts as one")
    quality_tolerance: float = Field(
        default=0.005,
        ge=0,
        lt=1,
        description="smallest relative quality difference that "
        "counts when choosing the sweet spot: below it a faster or simpler point wins",
    )
    efficiency_limit: float = Field(
        default=0.85, gt=0, le=1, description="stop when a passing candidate reaches this fraction of the roofline"
    )
    screen_limit: int | None = Field(
        default=None,
        ge=1,
        description="quality is screened before a trial is timed: on this many items (None: all of the task's; "
        "the timing run then reuses the screen's conversion and score)",
    )
    hold_out: float = Field(
        default=0.25,
        ge=0,
        lt=1,
        description="when a candidate learns from the task's items (static int8 calibration, distillation), "
        "this share of them (the first) calibrates and trains and is never scored; 0: score every item "
        "([task] options calibration = N sets the split itself)",
    )
    baseline_hours: float = Field(
        default=12.0,
        ge=0,
        description="reuse a stored run of the base model measured on this machine within this many hours with "
        "the same model, spec and software as the tune's baseline (0, or --fresh: measure it again)",
    )
    peak_step_seconds: float = Field(
        default=10.0, gt=0, le=600, description="peak_qps: seconds each rate of a trial's peak search runs"
    )
    search: Literal["list", "tpe", "random", "grid"] = Field(
        default="list",
        description="list: each algorithm with its defaults and hand-found variants, then combinations of those "
        "that passed; tpe, random, grid: an Optuna sampler walks the knobs each algorithm declares (`honed "
        "algorithms` lists them), one algorithm a recipe, quality screened before a trial is timed",
    )
    seed: int = Field(
        default=0, ge=0, description="the knob search's seed: the same seed and outcomes, the same trials"
    )
    screen_margin: float | None = Field(
        default=1.5,
        gt=1,
        description="a knob search times a point that passed its screen only while the rate of its quality "
        "pass (items/s; in the generate scope, tokens/s of a few greedy decoding calls) is within this factor of "
        "the best passing point's (latency and throughput objectives; a point one rung faster than a passing "
        "one is timed regardless); None: time every passing point",
    )
    starts: bool = Field(
        default=True,
        description="a knob search first tries each algorithm's defaults and hand-found variants (or the "
        "candidates named); false: only the points the sampler draws",
    )

    @field_validator("candidates", mode="before")
    @classmethod
    def _steps_from_text(cls, value: object) -> object:
        """'openvino:precision=bf16' in a spec file is a step with parameters, as on the command line."""
        if isinstance(value, (list, tuple)):
            return tuple(Step.parse(c) if isinstance(c, str) and ":" in c else c for c in value)
        return value

    @field_validator("latency_slo_ms")
    @classmethod
    def _slo_for_peak(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None and info.data.get("objective") == "peak_qps":
            raise ValueError("a p99 SLO in ms (--slo-ms) for objective peak_qps: the highest rate that meets it")
        return value

    @model_validator(mode="after")
    def _overlap(self) -> TuneSettings:
        if self.candidates is not None and not self.candidates:
            raise ValueError("candidates is empty: give at least one algorithm, or leave it out for all")
        return self

    @property
    def goal_objective(self) -> Objective:
        """The objective searched for, with its direction and unit."""
        return OBJECTIVES[self.objective]
