"""The adapter registry and ``load_model``: ModelRef -> ModelHandle."""

from __future__ import annotations

import importlib

from honed.core.installed import installed
from honed.core.protocol import ModelRef
from honed.core.registry import Registry
from honed.models.handle import ModelAdapter, ModelHandle

ADAPTERS: Registry[type[ModelAdapter]] = Registry("model kind", entry_point_group="honed.adapters")

# Built-in adapters are imported on first use so that importing honed stays cheap. The
# ``honed`` kind (a saved directory) replays a recipe, so the optimisation layer registers it.
_BUILTIN = {
    "torch": "honed.models.torch_module",
    "factory": "honed.models.torch_module",
    "transformers": "honed.models.transformers_model",
    "sentence-transformers": "honed.models.sentence_model",
    "onnx": "honed.models.onnx_model",
    "openvino": "honed.models.openvino_model",
    "gguf": "honed.models.gguf_model",
    "ctranslate2": "honed.models.ctranslate2_model",
    "honed": "honed.optimization.saved",
}


# What a built-in kind needs beyond the core, and the extra that installs it.
_KIND_NEEDS = {
    "transformers": (("transformers",), "transformers"),
    "sentence-transformers": (("sentence_transformers",), "transformers"),
    "onnx": (("onnxruntime",), "onnx"),
    "openvino": (("openvino",), "openvino"),
    "gguf": (("llama_cpp",), "llm"),
    "ctranslate2": (("ctranslate2",), "ctranslate2"),
}


def adapter(kind: str) -> type[ModelAdapter]:
    if kind in _BUILTIN and kind not in ADAPTERS:
        importlib.import_module(_BUILTIN[kind])
    if kind not in ADAPTERS and kind not in _BUILTIN:
        from honed.core.errors import UnknownNameError

        raise UnknownNameError("model kind", kind, set(_BUILTIN) | set(ADAPTERS.names()))
    return ADAPTERS.get(kind)


def check_ref(ref: ModelRef) -> None:
    """Reject an unknown kind or a missing local file before any worker process is started."""
    from pathlib import Path

    from honed.core.errors import ModelLoadError, SpecError

    kind = adapter(ref.kind)
    modules, extra = _KIND_NEEDS.get(ref.kind, ((), ""))
    if missing := [m for m in modules if not installed(m)]:
        raise SpecError(
            "model.kind",
            ref.kind,
            f"a kind whose packages are installed ({', '.join(missing)} is not)",
            hint=f"pip install 'honed[{extra}]'",
        )
    source_kind = kind.source_kind
    if source_kind == "import":
        module, _, attribute = ref.source.partition(":")
        if not module or not attribute:
            raise SpecError("model.source", ref.source, "'package.module:function' for kind 'factory'")
    looks_local = source_kind == "path" or ref.source.startswith(("/", "./", "../", "~")) or ref.source.count("/") > 1
    if source_kind != "import" and looks_local and not Path(ref.source).expanduser().exists():
        raise ModelLoadError(f"model.source: no such file or directory {ref.source!r}")
    kind.check(ref)  # what an adapter can check without loading (a saved model's manifest)


def known_kinds() -> list[str]:
    return sorted(set(_BUILTIN) | set(ADAPTERS.names()))


def load_model(
    ref: ModelRef, device: str = "cpu", threads: int | None = None, seed: int | None = None, weights: bool = True
) -> ModelHandle:
    """Load the model that ``ref`` describes onto ``device`` (``auto``: CUDA when visible).
    ``weights=False``: its weights are not needed (a runtime step will run files an earlier worker
    kept), so an adapter that can (``load_structure``) builds the model on the meta device."""
    kind = adapter(ref.kind)
    load = kind.load if weights else kind.load_structure
    return load(ref, device, threads, seed)
