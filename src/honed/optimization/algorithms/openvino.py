"""OpenVINO runtime: the torch model traced by OpenVINO's PyTorch frontend (or exported to ONNX
and converted), optionally compressed or quantized by NNCF, and compiled for the CPU plugin at an
explicit precision. A causal language model is exported as a stateful decoder (its KV cache kept
inside OpenVINO), so it generates; a speech-to-text model as its encoder and a stateful decoder
step (openvino_speech.py), so it transcribes."""

from __future__ import annotations

from typing import Any

from honed.core.protocol import ModelRef
from honed.models.capabilities import KEPT_BY_DECODER_EXPORT, KEPT_BY_SPEECH_EXPORT, Capability
from honed.models.openvino_model import OpenVinoHandle, Precision, compile_cpu
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, register_algorithm
from honed.optimization.algorithms.exported import SourceInputs
from honed.optimization.algorithms.openvino_decoder import StatefulDecoderHandle, export_stateful_decoder
from honed.optimization.algorithms.openvino_params import SPACE, TEXT_ENCODER_INT8, OpenVinoParams
from honed.optimization.algorithms.openvino_quantize import quantize
from honed.optimization.algorithms.openvino_speech import SpeechDecoderHandle
from honed.optimization.algorithms.openvino_speech_export import export_speech
from honed.optimization.algorithms.runtime import (
    NOT_EXPORTABLE,
    OnnxExport,
    convert_pytorch,
    export_onnx,
    keep_export,
    kept_export,
)


class ExportedOpenVinoHandle(SourceInputs, OpenVinoHandle):
    def __init__(
        self,
        ref: ModelRef,
        model: Any,
        compiled: Any,
        precision: Precision,
        source: Any,
        export: OnnxExport,
        notes: dict[str, Any] | None = None,
    ):
        super().__init__(ref, "cpu", model, compiled, precision)
        self._exported_from(source, export)
        self.notes = notes or {}  # what a search chose (int8-mixed), for the run record

    def runtime_info(self) -> dict[str, Any]:
        return {**super().runtime_info(), **self.notes}


@register_algorithm(
    "openvino",
    "runtime",
    "convert to OpenVINO (optionally NNCF int8/int4) and run it on "
    "OpenVINO's CPU plugin; language and speech models decode with their cache kept inside it",
    OpenVinoParams,
    targets=frozenset({"cpu"}),
    requires=("openvino", "nncf", "onnxscript"),
    extra="openvino",
    conflicts=NOT_EXPORTABLE,
    keeps=KEPT_BY_DECODER_EXPORT | KEPT_BY_SPEECH_EXPORT,
    typical_min_cosine=0.99,
    export="runtime",
    variants=(TEXT_ENCODER_INT8,),
    space=SPACE,
    learns=lambda params: params.quantization in ("int8", "int8-mixed"),  # activation ranges from task items
)  # MiniLM b8: f32 1.0000, bf16 0.99998, int8 0.992
def to_openvino(handle: TorchBackedHandle, params: OpenVinoParams, context: Context) -> OpenVinoHandle:
    import openvino as ov
    import torch

    if Capability.TRANSCRIBES in handle.capabilities:
        return _speech(handle, params, context)
    decoder = Capability.SCORES_TOKENS in handle.capabilities
    export, notes = kept_export(context) or _converted(handle, params, context, decoder)
    # Every worker runs the saved IR, the converting one too (a traced model differs from it in the last bit).
    model = ov.Core().read_model(str(export.path))
    compiled = compile_cpu(model, params.precision, torch.get_num_threads() or None)
    handle.module.to("meta")  # optimize()'s private copy: keep its tokenizer/config, free its weights
    ref = ModelRef(kind="openvino", source=str(export.path), name=handle.name, options={"precision": params.precision})
    if decoder:
        return StatefulDecoderHandle(ref, model, compiled, params.precision, handle, export)
    return ExportedOpenVinoHandle(ref, model, compiled, params.precision, handle, export, notes)


def _converted(
    handle: TorchBackedHandle, params: OpenVinoParams, context: Context, decoder: bool
) -> tuple[OnnxExport, dict[str, Any]]:
    """The model converted (and quantized) to an IR at model.xml, kept for the run's other workers."""
    import openvino as ov

    if decoder:
        model, export = export_stateful_decoder(handle, params.opset)
    elif params.converter == "pytorch":
        model, export = convert_pytorch(handle, context)
    else:
        export = export_onnx(handle, context, params.opset)
        model = ov.convert_model(str(export.path))
    notes: dict[str, Any] = {}
    if params.quantization != "none":
        model = quantize(model, params, export, handle, context, notes)
    ov.save_model(model, str(export.directory / "model.xml"), compress_to_fp16=False)  # what stats() and save() read
    return keep_export(export, context, "model.xml", ["model.xml", "model.bin"], notes), notes


def _speech(handle: TorchBackedHandle, params: OpenVinoParams, context: Context) -> SpeechDecoderHandle:
    """A speech-to-text model: its encoder and its stateful decoder step, each compressed alike."""
    import openvino as ov
    import torch

    export, _ = kept_export(context) or _converted_speech(handle, params, context)
    core = ov.Core()  # every worker runs the saved graphs, the converting one too
    encoder, decoder = core.read_model(str(export.path.with_name("encoder.xml"))), core.read_model(str(export.path))
    handle.module.to("meta")  # optimize()'s private copy: generate() still runs on it, its weights in OpenVINO
    ref = ModelRef(kind="openvino", source=str(export.path), name=handle.name, options={"precision": params.precision})
    return SpeechDecoderHandle(ref, encoder, decoder, params.precision, handle, export, torch.get_num_threads() or None)


def _converted_speech(
    handle: TorchBackedHandle, params: OpenVinoParams, context: Context
) -> tuple[OnnxExport, dict[str, Any]]:
    """Encoder and decoder step converted (and compressed) to encoder.xml and decoder.xml, kept
    for the run's other workers."""
    import openvino as ov

    encoder, decoder, export = export_speech(handle)
    if params.quantization != "none":
        encoder, decoder = (quantize(model, params, export, handle, context, {}) for model in (encoder, decoder))
    ov.save_model(encoder, str(export.path.with_name("encoder.xml")), compress_to_fp16=False)
    ov.save_model(decoder, str(export.path), compress_to_fp16=False)
    files = [f"{name}.{suffix}" for name in ("encoder", "decoder") for suffix in ("xml", "bin")]
    return keep_export(export, context, export.path.name, files), {}
