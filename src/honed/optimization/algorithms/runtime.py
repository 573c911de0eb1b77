"""Runtimes: export the (optimised) torch model to ONNX and run it with onnxruntime; the exports
OpenVINO starts from (ONNX, or its PyTorch frontend's trace) are here too (the rest: openvino.py)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from honed.core.protocol import ModelRef
from honed.models.graph_inputs import graph_feed
from honed.models.handle import ModelHandle
from honed.models.onnx_model import OnnxHandle, cuda_refusal, execution
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, register_algorithm
from honed.optimization.algorithms.exported import SourceInputs
from honed.optimization.algorithms.onnx_quantize import quantize_onnx
from honed.optimization.kept_files import keep, reuse
from honed.optimization.space import choice

# torch-level quantized tensors and compiled wrappers do not export; quantize in onnxruntime instead.
# bf16/fp16 graphs export but onnxruntime's CPU kernels lack them (seen: no bfloat16 Add).
NOT_EXPORTABLE = frozenset(
    {
        "torch-compile",
        "dynamic-int8",
        "torchao-int8-weight-only",
        "torchao-int8-dynamic",
        "torchao-int4-weight-only",
        "fp8-dynamic",
        "bf16",
        "fp16",
    }
)


class OnnxRuntimeParams(Params):
    only_with: ClassVar[dict[str, tuple[str, tuple[Any, ...]]]] = {
        "calibration_batches": ("quantization", ("static-int8",)),
        **dict.fromkeys(("per_channel", "reduce_range"), ("quantization", ("dynamic-int8", "static-int8"))),
    }
    quantization: Literal["none", "dynamic-int8", "static-int8"] = Field(
        default="none",
        description="dynamic-int8: int8 weights, activations quantized per call; static-int8: "
        "activation ranges calibrated once (QDQ, per-channel int8 weights, uint8 activations)",
    )
    calibration_batches: int = Field(
        default=8,
        ge=1,
        description="static-int8: batches of 2 items (of the run's "
        "task, else the model's synthetic inputs) used to calibrate activation ranges",
    )
    per_channel: bool = Field(
        default=True,
        description="int8: one weight scale per output channel (closer) or one per tensor (what some older "
        "int8 kernels need)",
    )
    reduce_range: bool = Field(
        default=False,
        description="int8: 7-bit weights; on CPUs without VNNI the u8 x s8 multiply-add saturates with "
        "8 bits, so this trades a bit of resolution for no overflow (a no-op gain with VNNI or AMX)",
    )
    opset: int = Field(default=18, ge=17)


class _Exported(torch.nn.Module):
    """Positional tensors in, one tensor out: the shape torch.onnx.export wants."""

    def __init__(self, handle: TorchBackedHandle, names: list[str], constants: dict[str, Any]):
        super().__init__()
        self.handle, self.names, self.constants = handle, names, constants
        self.module = handle.module  # registered, so export sees the parameters

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        batch: Any = tensors[0] if self.names == ["input"] else {**dict(zip(self.names, tensors)), **self.constants}
        return self.handle.run(batch).main


def _split(batch: Any) -> tuple[list[str], list[torch.Tensor], dict[str, Any]]:
    if isinstance(batch, torch.Tensor):
        return ["input"], [batch], {}
    names = [k for k, v in batch.items() if isinstance(v, torch.Tensor)]
    return names, [batch[k] for k in names], {k: v for k, v in batch.items() if not isinstance(v, torch.Tensor)}


class ExportedOnnxHandle(SourceInputs, OnnxHandle):
    def __init__(self, ref: ModelRef, device: str, session: Any, source: Any, export: OnnxExport):
        super().__init__(ref, device, session)
        self._exported_from(source, export)


@dataclass
class OnnxExport:
    """A torch handle exported to ONNX (or, for OpenVINO's PyTorch frontend, traced: ``path`` is then
    where its IR will be saved) in a temporary directory that lives as long as this; ``files`` is
    None where the run's kept directory holds them (kept_files.py)."""

    files: tempfile.TemporaryDirectory | None
    path: Path
    names: list[str]

    @property
    def directory(self) -> Path:
        return Path(self.files.name) if self.files is not None else self.path.parent

    def calibration_feeds(
        self, handle: ModelHandle, context: Context, batches: int, half: int | None = None
    ) -> list[dict[str, np.ndarray]]:
        """Deterministic calibration data: batches of 2 items of the run's task, or of the model's
        own synthetic inputs without one, so a replay in any worker agrees. ``half`` 0: every even
        item of the task, 1: every odd one (``Context.half_batches``): a calibration set and the
        items held out from it, to judge the calibrated model on."""
        ports = [(name, None) for name in self.names]
        if half is None:
            return [graph_feed(ports, context.batch(handle, 2, seed=seed)) for seed in range(batches)]
        return [graph_feed(ports, batch) for batch in context.half_batches(handle, 2, half, batches)]


def keep_export(
    export: OnnxExport, context: Context, path: str, files: list[str], notes: dict[str, Any] | None = None
) -> OnnxExport:
    """The export's ``files`` kept for the run's other workers (kept_files.py), with what a
    search chose (``notes``); the export now runs ``path`` from where they were kept."""
    where = keep(context.kept, export.directory, files, {"path": path, "names": export.names, "notes": notes or {}})
    return OnnxExport(export.files, where / path, export.names)


def kept_export(context: Context) -> tuple[OnnxExport, dict[str, Any]] | None:
    """What an earlier worker of the run kept with ``keep_export``, and its notes; None if nothing."""
    note = reuse(context.kept)
    return None if note is None else (OnnxExport(None, context.kept / note["path"], note["names"]), note["notes"])


def export_onnx(handle: TorchBackedHandle, context: Context, opset: int) -> OnnxExport:
    """torch.export the handle's model to ONNX with dynamic batch (and sequence) dimensions."""
    names, tensors, constants = _split(handle.example_inputs(2, context.inputs, seed=0))
    batch, sequence = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("sequence", min=2, max=8192)
    # Integer inputs of rank 2 are token ids/masks: their second dimension is the sequence.
    shapes = tuple(
        {0: batch, 1: sequence} if t.ndim == 2 and not t.is_floating_point() else {0: batch} for t in tensors
    )
    files = tempfile.TemporaryDirectory(prefix="honed-export-")
    path = Path(files.name) / "model.onnx"
    torch.onnx.export(
        _Exported(handle, names, constants).eval(),
        tuple(tensors),
        str(path),
        dynamo=True,
        input_names=names,
        output_names=["output"],
        dynamic_shapes=(shapes,),
        opset_version=opset,
    )
    return OnnxExport(files, path, names)


def convert_pytorch(handle: TorchBackedHandle, context: Context) -> tuple[Any, OnnxExport]:
    """The handle's model converted by OpenVINO's PyTorch frontend, inputs named as the handle's,
    batch (and token sequence) dimensions dynamic. Unlike the ONNX export, it keeps
    scaled_dot_product_attention one operation, the CPU plugin's fused kernel: the ONNX graph
    spells it out as MatMul, Softmax and Where over a tokens x tokens matrix (measured on Depth
    Anything small at 616x1064: 3.5 s per image through ONNX, 1.8 s traced, 2.2 s eager)."""
    import openvino as ov

    names, tensors, constants = _split(handle.example_inputs(2, context.inputs, seed=0))
    shapes = [
        ov.PartialShape([-1, -1] if t.ndim == 2 and not t.is_floating_point() else [-1, *t.shape[1:]]) for t in tensors
    ]
    with torch.no_grad():
        # A copy of the weights: the torch module's are freed (moved to meta) once converted.
        model = ov.convert_model(
            _Exported(handle, names, constants).eval(), example_input=tuple(tensors), input=shapes, share_weights=False
        )
    for port, name in zip(model.inputs, names):
        port.get_tensor().set_names({name})
    model.outputs[0].get_tensor().set_names({"output"})
    files = tempfile.TemporaryDirectory(prefix="honed-export-")
    return model, OnnxExport(files, Path(files.name) / "model.xml", names)


def _exported(handle: TorchBackedHandle, params: OnnxRuntimeParams, context: Context) -> OnnxExport:
    """The ONNX file the session runs (quantized as asked, at ``path``), kept for the run's other workers."""
    export = export_onnx(handle, context, params.opset)
    path = export.path
    if params.quantization != "none":
        path = quantize_onnx(
            export.path,
            params.quantization,
            params.per_channel,
            params.reduce_range,
            lambda: export.calibration_feeds(handle, context, params.calibration_batches),
        )
    files = [f.name for f in export.directory.iterdir() if f.name.startswith(path.name)]  # with external data
    return keep_export(export, context, path.name, files)


_INT8 = {"quantization": ("dynamic-int8", "static-int8")}
SPACE = (  # what a knob search walks (tune --search)
    choice(
        "quantization",
        "none",
        "dynamic-int8",
        "static-int8",
        why="dynamic int8 was the fastest recipe at cosine >= 0.99 on an AVX2 EPYC without VNNI (MiniLM "
        "batch 8: 1.71x fp32 eager, issue 37), where OpenVINO's static int8 barely beat f32",
        ladder=("static-int8", "dynamic-int8", "none"),
    ),
    choice(
        "per_channel",
        True,
        False,
        when=_INT8,
        why="per-tensor scales are coarser but some int8 kernels want them",
        ladder=(False, True),
    ),
    choice(  # no ladder: which value is closer to float depends on the CPU (VNNI or not)
        "reduce_range",
        False,
        True,
        when=_INT8,
        why="7-bit weights: no u8 x s8 saturation on CPUs without VNNI, a lost bit of resolution",
    ),
)


@register_algorithm(
    "onnxruntime",
    "runtime",
    "export with torch.export to ONNX and run it in onnxruntime",
    OnnxRuntimeParams,
    requires=("onnxruntime", "onnxscript"),
    extra="onnx",
    conflicts=NOT_EXPORTABLE,
    typical_min_cosine=0.98,
    export="runtime",
    space=SPACE,
    learns=lambda params: params.quantization == "static-int8",  # activation ranges from task items
    refuses=cuda_refusal,
)  # MiniLM: 1.0000 fp32, 0.986 dynamic-int8
def to_onnxruntime(handle: TorchBackedHandle, params: OnnxRuntimeParams, context: Context) -> ExportedOnnxHandle:
    import onnxruntime as ort

    export, _ = kept_export(context) or (_exported(handle, params, context), {})
    path = export.path
    options = ort.SessionOptions()
    if torch.get_num_threads():
        options.intra_op_num_threads = torch.get_num_threads()
    device, providers = execution(context.target)  # the target's device, or refused: never silently the CPU
    session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    handle.module.to("meta")  # optimize()'s private copy: keep its tokenizer/config, free its weights
    ref = ModelRef(kind="onnx", source=str(path), name=handle.name)
    return ExportedOnnxHandle(ref, device, session, handle, export)
