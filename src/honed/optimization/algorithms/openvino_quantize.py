"""NNCF on an OpenVINO graph: weight compression (int8, int4) and post-training int8 of weights
and activations, with the accuracy levers a recipe sets (model type, preset, SmoothQuant), or
int8-mixed's search for the spans to keep in float (openvino_mixed.py)."""

from __future__ import annotations

import logging
from typing import Any

from honed.core.errors import SpecError
from honed.models.handle import ModelHandle
from honed.optimization.algorithm import Context
from honed.optimization.algorithms.openvino_mixed import quantize_by_sensitivity
from honed.optimization.algorithms.runtime import OnnxExport


def quantize(
    model: Any, params: Any, export: OnnxExport, handle: ModelHandle, context: Context, notes: dict[str, Any]
) -> Any:
    """``model`` compressed or quantized as ``params`` (OpenVinoParams) say; what int8-mixed chose
    goes into ``notes`` for the run record."""
    import nncf

    logging.getLogger("nncf").setLevel(logging.WARNING)  # its progress bars would flood worker logs
    if params.quantization == "int8-weights":
        return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    if params.quantization == "int4-weights":
        # Unless all_layers, the embedding and the output projection stay int8 (NNCF's backup precision).
        mode = nncf.CompressWeightsMode.INT4_SYM if params.symmetric else nncf.CompressWeightsMode.INT4_ASYM
        # A layer whose input width group_size does not divide (SmolLM2's 576) gets the largest
        # group that does, down to 32 (NNCF's ADJUST), instead of failing the whole model.
        adjust = nncf.AdvancedCompressionParameters(group_size_fallback_mode=nncf.GroupSizeFallbackMode.ADJUST)
        return nncf.compress_weights(
            model,
            mode=mode,
            group_size=params.group_size,
            ratio=params.ratio,
            all_layers=params.all_layers,
            advanced_parameters=adjust,
        )
    if "position_ids" in export.names or "decoder_input_ids" in export.names:
        raise SpecError(
            "algorithm openvino: quantization",
            params.quantization,
            "'none', 'int8-weights' or 'int4-weights' for a "
            "generating model (activation quantization of a stateful decoder is not supported)",
        )
    # The transformer preset keeps softmax/layer-norm inputs in float, as NNCF recommends for token models.
    transformer = params.model_type == "transformer" or (params.model_type == "auto" and "input_ids" in export.names)
    kind = nncf.ModelType.TRANSFORMER if transformer else None
    if params.quantization == "int8-mixed":  # calibrated on half the items, judged on the other half
        feeds, judged = (export.calibration_feeds(handle, context, params.calibration_batches, half) for half in (0, 1))
        mixed = quantize_by_sensitivity(
            model,
            feeds,
            judged,
            accuracy_levers(params, kind),
            params.min_cosine,
            params.sensitivity_groups,
            params.precision,
        )
        notes.update(mixed.summary())
        notes["int8_mixed_judged_on"] = (
            f"{_items(judged)} task items held out from calibration"
            if context.real_items
            else f"{_items(judged)} synthetic inputs (no task data), other seeds than calibration"
        )
        return mixed.model
    feeds = export.calibration_feeds(handle, context, params.calibration_batches)
    return nncf.quantize(model, nncf.Dataset(feeds), subset_size=len(feeds), **accuracy_levers(params, kind))


def _items(feeds: list[dict[str, Any]]) -> int:
    return sum(len(next(iter(feed.values()))) for feed in feeds)


def accuracy_levers(params: Any, model_type: Any) -> dict[str, Any]:
    """``nncf.quantize``'s keyword arguments for the recipe's accuracy parameters."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters

    advanced = None
    if params.smooth_quant_alpha is not None:
        alphas = AdvancedSmoothQuantParameters(matmul=params.smooth_quant_alpha)
        advanced = AdvancedQuantizationParameters(smooth_quant_alphas=alphas)
    return {
        "model_type": model_type,
        "preset": nncf.QuantizationPreset.MIXED if params.preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE,
        "fast_bias_correction": params.fast_bias_correction,
        "advanced_parameters": advanced,
    }
