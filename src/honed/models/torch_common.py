"""What every torch-backed handle shares: stats, FLOP counting, sync, device moves."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from honed.models.handle import ModelHandle, ModelStats, bytes_on_disk

DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
}
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt")


def prepare_torch(device: str, threads: int | None, seed: int | None) -> str:
    """Apply the protocol's thread count and seed before a model is built; resolve 'auto'."""
    if threads:
        torch.set_num_threads(threads)
    if seed is not None:
        torch.manual_seed(seed)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from honed.core.errors import SpecError

        raise SpecError("target.device", device, "'cpu' or 'auto' (no CUDA device is visible)")
    return device


def to_device(value: Any, device: str) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    return value


def torch_inputs(value: Any, device: str, float_dtype: torch.dtype) -> Any:
    """Any model-scope batch as a torch model's inputs: arrays become tensors, tensors move to the
    model's device, floats take the weights' dtype (a bf16 model gets bf16 inputs); a tensor
    already there is returned as it is."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=float_dtype if value.is_floating_point() else value.dtype)
    if isinstance(value, Mapping):
        return {k: torch_inputs(v, device, float_dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(torch_inputs(v, device, float_dtype) for v in value)
    return value


def to_host(value: Any) -> Any:
    """Post-processing common to every pipeline: results back on the host."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: to_host(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_host(v) for v in value)
    return value


def _flat_tensors(value: Any) -> Iterator[torch.Tensor]:
    """Tensors in a state-dict value; torch.ao packs quantized weights as (weight, bias) tuples."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _flat_tensors(item)


def _storage(tensor: torch.Tensor) -> list[torch.Tensor]:
    """The plain tensors that hold a tensor's data: itself, or a subclass's inner tensors (torchao)."""
    flatten = getattr(type(tensor), "__tensor_flatten__", None)
    if flatten is None or type(tensor) in (torch.Tensor, torch.nn.Parameter):
        return [tensor.int_repr() if tensor.is_quantized else tensor]
    names, _ = flatten(tensor)
    return [inner for name in names for inner in _storage(getattr(tensor, name))]


def module_stats(module: torch.nn.Module, device: str, source: str | None) -> ModelStats:
    digest = hashlib.sha256()
    stored_bytes = 0
    quantized_elements = 0
    stored_dtypes = set()  # a torchao subclass reports float32 while it stores int8: name both
    for name, value in sorted(module.state_dict().items()):
        for tensor in _flat_tensors(value):
            if not isinstance(value, torch.Tensor):
                quantized_elements += tensor.numel()  # torch.ao packed (weight, bias): no longer parameters
            for plain in _storage(tensor):
                data = plain.detach().cpu().contiguous().reshape(-1)
                stored_dtypes.add(str(plain.dtype).removeprefix("torch."))
                stored_bytes += data.numel() * data.element_size()
                digest.update(name.encode())
                digest.update(data.view(torch.uint8).numpy().tobytes())
    dtypes = {str(p.dtype).removeprefix("torch.") for p in module.parameters()}
    dtypes |= {d for d in stored_dtypes if d in ("int8", "uint8")}
    if quantized_elements:
        dtypes.add("qint8")
    return ModelStats(
        parameters=sum(p.numel() for p in module.parameters()) + quantized_elements,
        bytes_in_memory=stored_bytes,
        bytes_on_disk=bytes_on_disk(source) if source else None,
        dtype=",".join(sorted(dtypes)) or None,
        device=device,
        weights_sha256=digest.hexdigest(),
    )


def count_flops(call: Any, batch: Any) -> int | None:
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            call(batch)
    except Exception:  # some custom ops cannot be traced by the counter; say "unknown"
        return None
    return int(counter.get_total_flops())


def random_tensor(shape: tuple[int, ...], dtype: str, generator: torch.Generator) -> torch.Tensor:
    torch_dtype = DTYPES[dtype]
    if torch_dtype.is_floating_point:
        return torch.randn(shape, generator=generator).to(torch_dtype)
    return torch.randint(0, 100, shape, generator=generator, dtype=torch_dtype)


class TorchBackedHandle(ModelHandle):
    """Base for handles whose model is a torch.nn.Module (``self.module``)."""

    module: torch.nn.Module
    # "no_grad" for models whose tensors cannot run under inference_mode (optimum-quanto int4).
    grad_mode: str = "inference"

    def with_module(self, module: torch.nn.Module) -> TorchBackedHandle:
        """A copy of this handle around another module (used by optimize on its private copy)."""
        clone = copy.copy(self)
        clone.module = module
        clone.recipe = list(self.recipe)
        return clone

    @property
    def float_dtype(self) -> torch.dtype:
        """The floating dtype of the weights (bf16 after a cast), used for float inputs."""
        return next((p.dtype for p in self.module.parameters() if p.dtype.is_floating_point), torch.float32)

    def stats(self) -> ModelStats:
        return module_stats(self.module, self.device, self.ref.source)

    def prepare(self, batch: Any) -> Any:
        return torch_inputs(batch, self.device, self.float_dtype)

    def count_flops(self, batch: Any) -> int | None:
        return count_flops(self.run, batch)

    def inference_context(self) -> Any:
        return torch.no_grad() if self.grad_mode == "no_grad" else torch.inference_mode()

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)

    def runtime_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"threads": torch.get_num_threads(), "device": self.device}
        if self.device.startswith("cuda"):
            info.update(
                device_name=torch.cuda.get_device_name(self.device),
                cuda_runtime=torch.version.cuda,
                cudnn=torch.backends.cudnn.version(),
            )
        else:
            info["device_name"] = "cpu"
        return info
