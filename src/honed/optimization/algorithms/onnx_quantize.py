"""onnxruntime's own int8 quantization of an exported ONNX file: dynamic (int8 weights, activations
quantized per call) or static (QDQ, activation ranges calibrated once on the feeds given)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

Feeds = list[dict[str, np.ndarray]]


def quantize_onnx(
    source: Path, mode: str, per_channel: bool, reduce_range: bool, calibration: Callable[[], Feeds]
) -> Path:
    """The quantized model, written beside ``source``; ``calibration`` is called for static only."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    if mode == "dynamic-int8":
        path = source.parent / "model-int8.onnx"
        quantize_dynamic(
            str(source), str(path), weight_type=QuantType.QInt8, per_channel=per_channel, reduce_range=reduce_range
        )
        return path
    path = source.parent / "model-static-int8.onnx"
    quantize_static(
        str(source),
        str(path),
        _reader(calibration()),
        quant_format=QuantFormat.QDQ,
        per_channel=per_channel,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gemm", "Conv"],
    )
    return path


def _reader(feeds: Feeds):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._pending = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._pending, None)

    return Reader()
