"""OpenVINO models (IR .xml + .bin, or anything ov.convert_model reads) run by the CPU plugin."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np

from honed.core.errors import ModelLoadError, SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models.capabilities import Capability
from honed.models.graph_inputs import graph_feed, synthetic_feed
from honed.models.handle import ModelHandle, ModelStats, sha256_of_files
from honed.models.output import ModelOutput
from honed.models.registry import ADAPTERS

Precision = Literal["f32", "bf16"]
_NUMPY = {
    "f32": np.float32,
    "f16": np.float16,
    "f64": np.float64,
    "i64": np.int64,
    "i32": np.int32,
    "boolean": np.bool_,
}


def compile_cpu(model: Any, precision: Precision, threads: int | None) -> Any:
    """Compile for the CPU plugin with an explicit precision: its default on CPUs with AMX or
    AVX512-BF16 is bf16, which would make an "fp32" OpenVINO run silently lower precision."""
    import openvino as ov

    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": precision}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    return ov.Core().compile_model(model, "CPU", config)


@ADAPTERS.register("openvino")
class OpenVinoHandle(ModelHandle):
    kind = "openvino"

    def __init__(self, ref: ModelRef, device: str, model: Any, compiled: Any, precision: Precision):
        super().__init__(ref, device)
        self.model, self.compiled, self.precision = model, compiled, precision
        self._local = threading.local()  # one infer request per calling thread (concurrent clients)

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> OpenVinoHandle:
        import openvino as ov

        if device not in ("cpu", "auto"):
            raise SpecError("target.device", device, "'cpu' or 'auto' (honed runs OpenVINO on its CPU plugin)")
        if not Path(ref.source).is_file():
            raise ModelLoadError(f"model.source: no such OpenVINO model file {ref.source!r}")
        precision = ref.options.get("precision", "f32")
        if precision not in ("f32", "bf16"):
            raise SpecError("model.options.precision", precision, "'f32' or 'bf16'")
        try:
            model = ov.Core().read_model(ref.source)
        except Exception as error:  # openvino raises RuntimeError subclasses of its own
            raise ModelLoadError(f"model.source: OpenVINO cannot read {ref.source!r}: {error}") from None
        return cls(ref, "cpu", model, compile_cpu(model, precision, threads), precision)

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability]:
        return frozenset()  # tensors in, tensors out: no tokenizer, no decoding

    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> dict[str, np.ndarray]:
        ports = [
            (
                port.get_any_name(),
                [d.get_length() if d.is_static else None for d in port.get_partial_shape()],
                port.get_element_type().to_string(),
            )
            for port in self.model.inputs
        ]
        return synthetic_feed(ports, _NUMPY, "openvino", batch_size, inputs, seed)

    def prepare(self, batch: Any) -> dict[str, np.ndarray]:
        return graph_feed(
            [(port.get_any_name(), _NUMPY.get(port.get_element_type().to_string())) for port in self.model.inputs],
            batch,
        )

    def forward(self, prepared: dict[str, np.ndarray]) -> ModelOutput:
        """Outputs copied out of the request, which reuses its buffers on the next call."""
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        results = request.infer(prepared)
        return ModelOutput.of_arrays(self.output_names, [np.array(results[port]) for port in self.compiled.outputs])

    @functools.cached_property
    def output_names(self) -> list[str]:
        names = []
        for index, port in enumerate(self.compiled.outputs):
            try:
                names.append(port.get_any_name())
            except RuntimeError:  # an output with no tensor name
                names.append(f"output{index}")
        return names

    def graphs(self) -> list[Any]:
        """The OpenVINO models this handle runs (a speech model has an encoder and a decoder)."""
        return [self.model]

    def stats(self) -> ModelStats:
        constants = [op for model in self.graphs() for op in model.get_ops() if op.get_type_name() == "Constant"]
        arrays = [op.get_data() for op in constants]
        weights = [a for a in arrays if a.size > 1]  # scalars are shapes and axes, not weights
        files = self.model_files()
        return ModelStats(
            parameters=int(sum(a.size for a in weights)),
            bytes_in_memory=int(sum(a.nbytes for a in weights)),
            bytes_on_disk=sum(f.stat().st_size for f in files) if files else None,
            # Integers wider than a byte are shapes, axes and indices (int32 ones from the PyTorch frontend).
            dtype=",".join(sorted({str(a.dtype) for a in weights if a.dtype.kind == "f" or a.dtype.itemsize == 1}))
            or None,
            device=self.device,
            weights_sha256=sha256_of_files(files) if files else None,
        )

    def model_files(self) -> list[Path]:
        xml = Path(self.ref.source)
        if xml.suffix != ".xml":  # e.g. an ONNX file read directly
            return [xml] if xml.is_file() else []
        return [xml, xml.with_suffix(".bin")]

    def runtime_info(self) -> dict[str, Any]:
        import openvino as ov

        return {
            "device": self.device,
            "device_name": "CPU",
            "threads": int(self.compiled.get_property("INFERENCE_NUM_THREADS")) or None,
            "openvino_precision": self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string(),
            "openvino": ov.__version__,
        }

    def deploy_options(self) -> dict[str, Any]:
        """The inference precision honed compiled with: on a CPU with bf16 the plugin's default is bf16."""
        return {"INFERENCE_PRECISION_HINT": self.precision}

    def save_files(self, directory: Path) -> dict[str, Any]:
        import openvino as ov

        # compress_to_fp16 would halve fp32 weights on disk and change what was measured.
        ov.save_model(self.model, str(directory / "model.xml"), compress_to_fp16=False)
        return {"files": ["model.xml", "model.bin"], "precision": self.precision}

    @classmethod
    def load_saved(
        cls, directory: Path, manifest: dict[str, Any], device: str, threads: int | None, trust_code: bool = False
    ) -> OpenVinoHandle:
        ref = ModelRef(
            kind="openvino",
            source=str(directory / "model.xml"),
            name=manifest.get("name"),
            options={"precision": manifest.get("precision", "f32")},
        )
        return cls.load(ref, device, threads)
