"""Plain torch.nn.Module models: from a factory, a safetensors file, or (if allowed) a pickle."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

from honed.core.errors import ModelLoadError, SpecError, UnsafeFormatError
from honed.core.protocol import InputSpec, ModelRef
from honed.models.capabilities import Capability
from honed.models.output import ModelOutput
from honed.models.registry import ADAPTERS
from honed.models.torch_common import PICKLE_SUFFIXES, TorchBackedHandle, prepare_torch, random_tensor, to_host


def import_factory(spec: str, field: str = "model.source") -> Any:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SpecError(field, spec, "'package.module:function'")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError, TypeError) as error:  # TypeError: a relative name
        raise ModelLoadError(f"{field}: cannot import {spec!r}: {error}") from None
    return target


def build_from_factory(factory: str, kwargs: dict[str, Any]) -> torch.nn.Module:
    build = import_factory(factory)
    try:
        module = build(**kwargs)
    except (TypeError, ValueError, RuntimeError, MemoryError, OverflowError) as error:  # arguments it cannot take
        raise ModelLoadError(
            f"factory {factory!r} failed with kwargs {kwargs!r}: {type(error).__name__}: {error}"
        ) from None
    if not isinstance(module, torch.nn.Module):
        raise ModelLoadError(f"factory {factory!r} returned {type(module).__name__}, not a torch.nn.Module")
    return module


def load_safetensors_into(module: torch.nn.Module, path: str | Path) -> None:
    from safetensors.torch import load_model as load_safetensors

    try:
        missing, unexpected = load_safetensors(module, str(path), strict=False)
    except (RuntimeError, OSError) as error:  # shapes that differ, or a file that is not safetensors
        raise ModelLoadError(
            f"{path}: weights do not fit the architecture: {str(error).strip().splitlines()[-1]}"
        ) from None
    if missing or unexpected:
        raise ModelLoadError(
            f"{path}: weights do not fit the architecture (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )


def build_on_meta(factory: str, kwargs: dict[str, Any]) -> Any:
    """What the factory returns when built on the meta device (no memory, no weights); None when
    it cannot be built there (e.g. a factory that loads weights itself)."""
    try:
        with torch.device("meta"):
            return import_factory(factory)(**kwargs)
    except Exception:
        return None


def meta_state_bytes(factory: str, kwargs: dict[str, Any]) -> int | None:
    """Bytes of the parameters and buffers the factory would build; None when unknown."""
    module = build_on_meta(factory, kwargs)
    if not isinstance(module, torch.nn.Module):
        return None
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


@ADAPTERS.register("torch")
class TorchModuleHandle(TorchBackedHandle):
    kind = "torch"

    def __init__(self, ref: ModelRef, device: str, module: torch.nn.Module):
        super().__init__(ref, device)
        self.module = module.to(device).eval()

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> TorchModuleHandle:
        device = prepare_torch(device, threads, seed)
        factory = ref.options.get("factory") if ref.kind == "torch" else ref.source
        kwargs = ref.options.get("kwargs", {})
        if ref.kind == "factory":
            module = build_from_factory(ref.source, kwargs)
            if ref.options.get("weights"):
                load_safetensors_into(module, ref.options["weights"])
            return cls(ref, device, module)
        path = Path(ref.source)
        if not path.exists():
            raise ModelLoadError(f"model.source: no such file {ref.source!r}")
        if path.suffix == ".safetensors":
            if not factory:
                raise SpecError(
                    "model.options.factory",
                    None,
                    "'package.module:function' that builds the architecture",
                    hint="a .safetensors file holds weights only",
                )
            module = build_from_factory(factory, kwargs)
            load_safetensors_into(module, path)
            return cls(ref, device, module)
        if path.suffix in PICKLE_SUFFIXES:
            if not ref.allow_pickle:
                raise UnsafeFormatError(
                    f"{ref.source} is a pickle file, and loading one can run arbitrary code. "
                    "Pass allow_pickle=True (CLI: --allow-pickle) if you trust it, or save it as safetensors."
                )
            loaded = torch.load(path, map_location="cpu", weights_only=False)
            if isinstance(loaded, dict) and factory:
                module = build_from_factory(factory, kwargs)
                module.load_state_dict(loaded)
                loaded = module
            if not isinstance(loaded, torch.nn.Module):
                raise ModelLoadError(
                    f"{ref.source} holds a {type(loaded).__name__}; give options.factory to build the module"
                )
            return cls(ref, device, loaded)
        raise SpecError("model.source", ref.source, f"a .safetensors file or a pickle ({', '.join(PICKLE_SUFFIXES)})")

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability]:
        return frozenset()  # tensors in, tensors out: no tokenizer, no decoding

    @classmethod
    def meta_module(cls, ref: ModelRef) -> torch.nn.Module | None:
        """The architecture on the meta device (nothing allocated), where a factory names it."""
        factory = ref.source if ref.kind == "factory" else ref.options.get("factory")
        built = build_on_meta(factory, ref.options.get("kwargs", {})) if factory else None
        return built if isinstance(built, torch.nn.Module) else None

    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> torch.Tensor:
        batch = self.raw_inputs(batch_size, inputs, seed)
        if batch.is_floating_point():
            batch = batch.to(self.float_dtype)  # a model cast to bf16/fp16 takes inputs of its dtype
        return batch.to(self.device)

    def raw_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> torch.Tensor:
        if inputs.shape is None:
            raise SpecError(
                "inputs.shape",
                None,
                "a per-item shape such as [3, 224, 224]",
                hint="a plain torch module does not declare its input",
            )
        generator = torch.Generator().manual_seed(seed)
        return random_tensor((batch_size, *inputs.shape), inputs.dtype, generator)

    def forward(self, prepared: Any) -> ModelOutput:
        return ModelOutput.of(self.module(prepared))

    def run_pipeline(self, raw: Any) -> torch.Tensor:
        return to_host(self.run(raw).main)

    def save_files(self, directory: Path) -> dict[str, Any]:
        from safetensors.torch import save_model

        factory = self.ref.source if self.ref.kind == "factory" else self.ref.options.get("factory")
        if not factory:
            raise ModelLoadError(
                "cannot save a torch module without a factory that rebuilds its architecture: "
                "load it with ModelRef(kind='factory', source='package.module:function')"
            )
        save_model(self.module, str(directory / "model.safetensors"))
        return {"factory": factory, "kwargs": self.ref.options.get("kwargs", {}), "files": ["model.safetensors"]}

    @classmethod
    def load_saved(
        cls, directory: Path, manifest: dict[str, Any], device: str, threads: int | None, trust_code: bool = False
    ) -> TorchModuleHandle:
        ref = ModelRef(
            kind="factory",
            source=manifest["factory"],
            name=manifest.get("name"),
            options={"kwargs": manifest.get("kwargs", {}), "weights": str(directory / "model.safetensors")},
        )
        return cls.load(ref, device, threads)


@ADAPTERS.register("factory")
class FactoryModuleHandle(TorchModuleHandle):
    """A module built by calling ``package.module:function`` with ``options.kwargs``."""

    source_kind = "import"

    @classmethod
    def check(cls, ref: ModelRef) -> None:
        """Import the factory and build it once on the meta device, so a wrong name or a factory
        that builds no module fails here, once, not in every worker."""
        import_factory(ref.source)
        built = build_on_meta(ref.source, ref.options.get("kwargs", {}))
        if built is not None and not isinstance(built, torch.nn.Module):
            raise ModelLoadError(
                f"model.source: factory {ref.source!r} returned {type(built).__name__}, not a torch.nn.Module"
            )
