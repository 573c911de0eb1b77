"""Saved models: the adapter's files (safetensors, or ONNX) plus a JSON manifest that names
the adapter, the recipe that produced the model, and the library versions it was saved with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from honed.errors import ModelLoadError, SpecError
from honed.models.handle import ModelHandle
from honed.models.registry import ADAPTERS, adapter, known_kinds
from honed.protocol import InputSpec, ModelRef, TaskSpec

MANIFEST = "honed-manifest.json"
FORMAT = "honed.model"
FORMAT_VERSION = 1
ARTIFACT = "artifact"


def save_handle(handle: ModelHandle, directory: Path) -> Path:
    from honed.fingerprint import PACKAGES, package_version

    directory.mkdir(parents=True, exist_ok=True)
    if (directory / MANIFEST).exists():
        raise FileExistsError(f"{directory} already holds a saved model; choose an empty directory")
    # An optimised model is saved as its base plus the recipe that rebuilds it on load.
    origin = handle.base or handle
    fields = origin.save_files(directory)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": origin.ref.kind if origin.ref.kind != "factory" else "torch",
        "name": handle.name,
        "recipe": handle.recipe,
        "recipe_inputs": handle.optimize_inputs.model_dump(mode="json") if handle.optimize_inputs else None,
        "recipe_task": handle.optimize_task.model_dump(mode="json") if handle.optimize_task else None,
        "libraries": {name: v for name in PACKAGES if (v := package_version(name))},
        **fields,
    }
    if origin is not handle and handle.ref.kind != origin.ref.kind:
        # A runtime export (ONNX, OpenVINO IR) is also written as itself: what a deployment loads
        # without honed. Loading the directory still replays the recipe, pre-processing included.
        (directory / ARTIFACT).mkdir()
        manifest["artifact"] = {"kind": handle.ref.kind, "directory": ARTIFACT,
                                **handle.save_files(directory / ARTIFACT)}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return directory


MAX_MANIFEST_BYTES = 1 << 20


def read_manifest(directory: Path) -> dict[str, Any]:
    from honed.trust import read_json

    path = directory / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"model.source: {directory} has no {MANIFEST}; was it written by ModelHandle.save?")
    manifest = read_json(path.read_bytes(), str(path), MAX_MANIFEST_BYTES)
    if not isinstance(manifest, dict):
        raise ModelLoadError(f"{path}: a manifest is a JSON object, not {type(manifest).__name__}")
    version = manifest.get("format_version", 0)
    if manifest.get("format") != FORMAT or not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelLoadError(
            f"{path}: format {manifest.get('format')!r} version {version!r} "
            f"is not {FORMAT!r} version <= {FORMAT_VERSION}; upgrade honed to load it"
        )
    return manifest


class SavedManifest(BaseModel):
    """The manifest's fields and their types: anything else is refused before it is used."""

    model_config = ConfigDict(extra="forbid")
    format: str
    format_version: int
    kind: str
    name: str | None = None
    recipe: list[dict[str, Any]] = []
    recipe_inputs: InputSpec | None = None
    recipe_task: TaskSpec | None = None
    libraries: dict[str, str] = {}
    files: list[str] = []
    factory: str | None = None
    kwargs: dict[str, Any] = {}
    auto_class: str | None = None
    precision: str | None = None
    artifact: dict[str, Any] | None = None


def check_manifest(directory: Path, manifest: dict[str, Any], trusted: bool) -> SavedManifest:
    """Everything a manifest names is checked before anything is loaded: it is data, and data
    runs no code (SECURITY.md). Code it names needs ``trust_code``; paths stay inside."""
    from honed.trust import check_factory, check_no_links_out, check_task_module, contained_path
    from honed.validation import build

    where = f"{directory / MANIFEST}"
    check_no_links_out(directory)
    saved = build(SavedManifest, manifest, MANIFEST)
    if saved.kind in ("honed", "factory") or saved.kind not in known_kinds():
        raise SpecError(f"{MANIFEST}.kind", saved.kind, "the kind of the saved base model: torch, transformers, "
                        "sentence-transformers, onnx or openvino")
    if saved.kind == "torch" and saved.factory is None:
        raise SpecError(f"{MANIFEST}.factory", None, "'package.module:function' that builds the saved torch module")
    if saved.factory is not None:
        check_factory(saved.factory, trusted, where)
        _check_architecture_size(directory, saved)
    for name in saved.files:
        contained_path(directory, name, f"{MANIFEST}.files")
    if saved.recipe_task is not None:
        check_task_module(saved.recipe_task.module, saved.recipe_task.name, trusted, where)
    if saved.artifact is not None:
        contained_path(directory, saved.artifact.get("directory"), f"{MANIFEST}.artifact.directory")
    return saved


def _check_architecture_size(directory: Path, saved: SavedManifest) -> None:
    """The manifest's kwargs must not describe a model far larger than the weights saved beside it:
    data could otherwise make honed allocate without bound before the weights fail to fit."""
    from honed.models.torch_module import meta_state_bytes

    weights = directory / "model.safetensors"
    needed = meta_state_bytes(saved.factory, saved.kwargs)
    if needed is not None and weights.is_file() and needed > 2 * weights.stat().st_size + (1 << 20):
        raise ModelLoadError(f"{MANIFEST}: factory {saved.factory!r} with kwargs {saved.kwargs} builds "
                             f"{needed} bytes of weights, but {weights.name} holds {weights.stat().st_size}")


@ADAPTERS.register("honed")
class SavedModel:
    """Loads a directory written by ``ModelHandle.save`` with the adapter its manifest names."""

    @classmethod
    def check(cls, ref: ModelRef) -> SavedManifest:
        """The manifest, read and checked (in the parent, before any worker starts, and on load)."""
        directory = Path(ref.source)
        return check_manifest(directory, read_manifest(directory), ref.trust_code)

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> ModelHandle:
        directory = Path(ref.source)
        saved = cls.check(ref)
        handle = adapter(saved.kind).load_saved(directory, saved.model_dump(), device, threads,  # type: ignore[attr-defined]
                                                trust_code=ref.trust_code)
        if not saved.recipe:
            return handle
        from honed.optimization import Recipe, optimize

        return optimize(handle, Recipe.of(*saved.recipe), target=handle.device, inputs=saved.recipe_inputs,
                        task=saved.recipe_task)
