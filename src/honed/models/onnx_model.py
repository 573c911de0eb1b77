"""ONNX models run by onnxruntime."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from honed.core.errors import ModelLoadError, SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models.capabilities import Capability
from honed.models.graph_inputs import graph_feed, synthetic_feed
from honed.models.handle import ModelHandle, ModelStats, sha256_of_files
from honed.models.output import ModelOutput
from honed.models.registry import ADAPTERS

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


def external_data_files(path: Path) -> list[Path]:
    """The .onnx file and its external-data files; a location outside the file's directory (an
    absolute path, '..', a link out) is refused: the graph is data and must not read elsewhere."""
    import onnx

    from honed.core.trust import contained_path

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as error:  # protobuf's DecodeError and onnx's own errors
        raise ModelLoadError(f"model.source: {path} is not a readable ONNX file: {error}") from None
    locations = {entry.value for t in graph.initializer for entry in t.external_data if entry.key == "location"}
    return [path] + [
        contained_path(path.parent, location, f"{path.name} external data location") for location in sorted(locations)
    ]


def cuda_refusal(device: str) -> str | None:
    """Why onnxruntime cannot run on ``device`` here (a CUDA device without its CUDA provider), or None."""
    import onnxruntime as ort

    wants_cuda = device == "cuda" or device.startswith("cuda:")
    if wants_cuda and "CUDAExecutionProvider" not in ort.get_available_providers():
        return "onnxruntime here has no CUDA provider (the onnxruntime-gpu package has it): run on 'cpu'"
    return None


def execution(device: str) -> tuple[str, list[Any]]:
    """The device an inference session runs on for the target ``device`` (``auto``: CUDA when its
    provider is here), and its execution providers; a CUDA target without the provider is refused."""
    import onnxruntime as ort

    if device == "auto":
        device = "cuda" if "CUDAExecutionProvider" in ort.get_available_providers() else "cpu"
    if (refusal := cuda_refusal(device)) is not None:
        raise SpecError("target.device", device, "'cpu' or 'auto'", hint=refusal)
    if not device.startswith("cuda"):
        return "cpu", ["CPUExecutionProvider"]
    index = int(device.partition(":")[2] or 0)  # cuda:1 is the second GPU, as torch numbers them
    return device, [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


@ADAPTERS.register("onnx")
class OnnxHandle(ModelHandle):
    kind = "onnx"

    def __init__(self, ref: ModelRef, device: str, session: Any):
        super().__init__(ref, device)
        self.session = session

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> OnnxHandle:
        import onnxruntime as ort

        if not Path(ref.source).is_file():
            raise ModelLoadError(f"model.source: no such ONNX file {ref.source!r}")
        external_data_files(Path(ref.source))  # refuses locations outside the model's directory
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        device, providers = execution(device)
        try:
            session = ort.InferenceSession(ref.source, sess_options=options, providers=providers)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelLoadError(f"model.source: onnxruntime cannot load {ref.source!r}: {error}") from None
        return cls(ref, device, session)

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability]:
        return frozenset()  # tensors in, tensors out: no tokenizer, no decoding

    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> dict[str, np.ndarray]:
        ports = [
            (arg.name, [d if isinstance(d, int) else None for d in arg.shape], arg.type)
            for arg in self.session.get_inputs()
        ]
        return synthetic_feed(ports, _ORT_DTYPES, "onnx", batch_size, inputs, seed)

    def prepare(self, batch: Any) -> dict[str, np.ndarray]:
        return graph_feed([(arg.name, _ORT_DTYPES.get(arg.type)) for arg in self.session.get_inputs()], batch)

    @functools.cached_property
    def output_names(self) -> list[str]:
        return [arg.name for arg in self.session.get_outputs()]

    def forward(self, prepared: dict[str, np.ndarray]) -> ModelOutput:
        return ModelOutput.of_arrays(self.output_names, self.session.run(self.output_names, prepared))

    def model_files(self) -> list[Path]:
        """The .onnx file and the external-data files its initializers point to."""
        return external_data_files(Path(self.ref.source))

    def stats(self) -> ModelStats:
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(self.ref.source).graph  # external data included
        arrays = [numpy_helper.to_array(t) for t in graph.initializer]
        files = self.model_files()
        return ModelStats(
            parameters=int(sum(a.size for a in arrays)),
            bytes_in_memory=int(sum(a.nbytes for a in arrays)),
            bytes_on_disk=sum(f.stat().st_size for f in files),
            # floats and the one-byte integers a quantizer stores (not the int64 shape constants)
            dtype=",".join(sorted({str(a.dtype) for a in arrays if a.dtype.kind == "f" or a.dtype.itemsize == 1}))
            or None,
            device=self.device,
            weights_sha256=sha256_of_files(files),
        )

    def runtime_info(self) -> dict[str, Any]:
        import onnxruntime as ort

        options = self.session.get_session_options()
        return {
            "device": self.device,
            "device_name": self.device,
            "threads": options.intra_op_num_threads or None,
            "onnxruntime_providers": self.session.get_providers(),
            "onnxruntime": ort.__version__,
        }

    def save_files(self, directory: Path) -> dict[str, Any]:
        import onnx

        model = onnx.load(self.ref.source)  # with its external data
        external = model.ByteSize() > 1_900_000_000  # protobuf's 2 GB limit
        onnx.save_model(
            model, str(directory / "model.onnx"), save_as_external_data=external, location="model.onnx.data"
        )
        return {"files": ["model.onnx"] + (["model.onnx.data"] if external else [])}

    @classmethod
    def load_saved(
        cls, directory: Path, manifest: dict[str, Any], device: str, threads: int | None, trust_code: bool = False
    ) -> OnnxHandle:
        return cls.load(
            ModelRef(kind="onnx", source=str(directory / "model.onnx"), name=manifest.get("name")), device, threads
        )
