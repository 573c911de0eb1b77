"""The OpenVINO step's parameters, the fields that belong to one mode only, the text-encoder int8
a default tune tries, and the knobs a search walks (openvino.py applies them)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from honed.models.capabilities import Capability
from honed.models.openvino_model import Precision
from honed.optimization.algorithm import Params, Variant
from honed.optimization.space import choice, float_range, int_range

_ACTIVATIONS = {"quantization": ("int8", "int8-mixed")}
_INT4 = {"quantization": ("int4-weights",)}
# Models whose export has a stateful decoder: its activations are not quantized.
DECODERS = frozenset({Capability.SCORES_TOKENS, Capability.GENERATES, Capability.TRANSCRIBES, Capability.WRITES_TEXT})


class OpenVinoParams(Params):
    only_with: ClassVar[dict[str, tuple[str, tuple[Any, ...]]]] = {
        **dict.fromkeys(("group_size", "ratio", "all_layers", "symmetric"), ("quantization", _INT4["quantization"])),
        **dict.fromkeys(
            ("calibration_batches", "model_type", "smooth_quant_alpha", "preset", "fast_bias_correction"),
            ("quantization", _ACTIVATIONS["quantization"]),
        ),
        **dict.fromkeys(("min_cosine", "sensitivity_groups"), ("quantization", ("int8-mixed",))),
        "opset": ("converter", ("onnx",)),
    }
    precision: Precision = Field(
        default="f32",
        description="the CPU plugin's inference precision; bf16 runs "
        "on AMX / AVX512-BF16 units (the plugin's own default on such CPUs)",
    )
    quantization: Literal["none", "int8-weights", "int4-weights", "int8", "int8-mixed"] = Field(
        default="none",
        description="int8-weights: NNCF weight compression (int8 asymmetric, per channel), "
        "activations stay float; int4-weights: NNCF int4 weight compression in groups (see group_size, ratio, "
        "symmetric), the weight-only mode for LLM decoding; int8: NNCF post-training quantization of weights "
        "and activations, calibrated on the run's task data (else the model's synthetic inputs); int8-mixed: int8 "
        "with the most sensitive spans of the graph left in float (at this precision) until the outputs keep "
        "min_cosine",
    )
    group_size: int = Field(
        default=128,
        ge=-1,
        description="int4-weights: weights per int4 scale along the input dimension (a layer it does not "
        "divide gets the largest group that does, down to 32); -1: one scale per output channel",
    )
    ratio: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="int4-weights: the share of weights in int4; NNCF "
        "keeps the rest, those whose int4 error is largest, in int8",
    )
    all_layers: bool = Field(
        default=False,
        description="int4-weights: the embedding and the output projection in "
        "int4 too (NNCF's all_layers), not int8; on the 1B Llama's tied 128k-token table a "
        "smaller model and faster decoding, further from the float logits",
    )
    symmetric: bool = Field(
        default=True,
        description="int4-weights: symmetric int4 (no zero point; faster) or "
        "asymmetric (a zero point per group; closer)",
    )
    calibration_batches: int = Field(
        default=8,
        ge=1,
        description="int8: batches of 2 items used to calibrate activation ranges (int8-mixed with task data: "
        "every even-numbered item calibrates, every odd-numbered one judges)",
    )
    min_cosine: float = Field(
        default=0.99,
        gt=0.0,
        le=1.0,
        description="int8-mixed: the mean output cosine to the "
        "float model, on items held out from calibration, that the mixed model must keep",
    )
    model_type: Literal["auto", "transformer", "default"] = Field(
        default="auto",
        description="int8, int8-mixed: NNCF's model type. transformer keeps softmax and layer-norm inputs in "
        "float and applies SmoothQuant (closer on attention models, a little slower); auto: transformer for "
        "models that take token ids, default for the rest (a vision transformer gains from transformer)",
    )
    smooth_quant_alpha: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="int8, int8-mixed, with model_type transformer: SmoothQuant's alpha for MatMul inputs (None: "
        "NNCF's default, 0.95; -1: off). It moves activation outliers into the weights, higher moves more: closer "
        "activations, coarser weights",
    )
    preset: Literal["performance", "mixed"] = Field(
        default="performance",
        description="int8, int8-mixed: performance: symmetric int8 activations (fastest); mixed: asymmetric "
        "activations (a zero point), closer where activations are not centred on zero (after GELU), a little slower",
    )
    fast_bias_correction: bool = Field(
        default=True,
        description="int8, int8-mixed: NNCF's fast bias correction; False runs the full one (slower to "
        "quantize, sometimes closer)",
    )
    sensitivity_groups: int = Field(
        default=8,
        ge=1,
        le=64,
        description="int8-mixed: contiguous spans the "
        "quantizable operations are cut into; each is kept in float or not as a whole",
    )
    converter: Literal["pytorch", "onnx"] = Field(
        default="pytorch",
        description="pytorch: OpenVINO's PyTorch frontend traces the model and keeps "
        "scaled_dot_product_attention one fused operation; onnx: export to ONNX first (attention decomposed into "
        "MatMul/Softmax). A causal language model always goes through ONNX (its stateful decoder); a speech-to-text "
        "model always through the PyTorch frontend (encoder and stateful decoder step)",
    )
    opset: int = Field(default=18, ge=17, description="converter onnx: the ONNX opset")


# A text encoder's int8 that keeps its quality (bench/int8_frontier.py, MiniLM batch 8 x 32 on an AMD
# EPYC without AMX, two runs): 7.4x and 5.7x fp32 eager, 1.85x and 1.63x torchao int8 + torch.compile,
# pooled-embedding cosine 0.993 on held-out real sentences. SmoothQuant (on by default for a
# transformer) cost most of the cosine there; asymmetric activations (preset mixed) closed the rest.
TEXT_ENCODER_INT8 = Variant(
    params={"quantization": "int8-mixed", "smooth_quant_alpha": -1.0, "preset": "mixed", "sensitivity_groups": 16},
    needs=frozenset({Capability.TOKENIZES}),
    excludes=frozenset({Capability.SCORES_TOKENS, Capability.GENERATES, Capability.TRANSCRIBES}),
    suited="a text encoder (a model with a tokenizer that does not decode)",
    why="int8 with the most sensitive spans in float, SmoothQuant off, asymmetric activations: "
    "the text encoder recipe measured fastest at cosine >= 0.99 (bench/int8_frontier.py)",
)


# What a knob search walks (tune --search). The evidence is bench/int8_frontier.py's MiniLM rows unless said.
SPACE = (
    choice(
        "quantization",
        "none",
        "int8-weights",
        "int4-weights",
        "int8",
        "int8-mixed",
        why="the largest lever and the most CPU-bound one: int8 activations gave 8x fp32 eager on an AVX-512 "
        "EPYC and barely beat f32 on an AVX2 one without VNNI (issue 37), where int8-weights or none can win",
        ladder=("int4-weights", "int8", "int8-mixed", "int8-weights", "none"),
        # A stateful decoder's activations are not quantized (openvino_quantize.py refuses it after converting).
        unsuited={"int8": DECODERS, "int8-mixed": DECODERS},
    ),
    choice(
        "precision",
        "f32",
        "bf16",
        why="bf16 runs on AMX / AVX512-BF16 units; on an AVX2 EPYC the plugin's bf16 still gave 1.35x on MiniLM",
        ladder=("bf16", "f32"),
    ),
    choice(
        "preset",
        "performance",
        "mixed",
        when=_ACTIVATIONS,
        why="asymmetric activations (mixed) closed MiniLM's last gap to cosine 0.99 (0.9889 -> 0.9934)",
        ladder=("performance", "mixed"),
    ),
    choice(
        "smooth_quant_alpha",
        None,
        -1.0,
        0.5,
        when=_ACTIVATIONS,
        why="NNCF's default SmoothQuant (0.95 on a transformer) cost most of MiniLM's cosine (0.963; off: 0.985)",
    ),
    int_range(
        "sensitivity_groups",
        4,
        32,
        log=True,
        grid=(8, 16, 24),
        when={"quantization": ("int8-mixed",)},
        why="finer spans leave less of the graph in float: 8 -> 16 spans ran 6.15 -> 5.26 ms at equal cosine",
        ladder=(32, 16, 8),
    ),
    choice(
        "group_size",
        32,
        64,
        128,
        when=_INT4,
        why="smaller int4 groups are closer to float, larger ones faster",
        ladder=(128, 64, 32),
    ),
    float_range(
        "ratio",
        0.5,
        1.0,
        grid=(0.8, 1.0),
        when=_INT4,
        why="the share in int4; NNCF keeps the weights int4 hurts most in int8 (an LLM's guardrail)",
    ),
    choice(
        "symmetric",
        True,
        False,
        when=_INT4,
        why="asymmetric int4 (a zero point) is closer, symmetric faster",
        ladder=(True, False),
    ),
)
