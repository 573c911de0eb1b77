"""Saved models: the adapter's files (safetensors, or ONNX) plus a JSON manifest that names
the adapter, the recipe that produced the model, and the library versions it was saved with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from honed.errors import ModelLoadError, SpecError
from honed.models.handle import ModelHandle
from honed.models.registry import ADAPTERS, adapter
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


def check_manifest(directory: Path, manifest: dict[str, Any], trusted: bool) -> None:
    """Everything a manifest names is checked before anything is loaded: it is data, and data
    runs no code (SECURITY.md). Code it names needs ``trust_code``; paths stay inside."""
    from honed.trust import check_factory, check_no_links_out, check_task_module, contained_path

    where = f"{directory / MANIFEST}"
    check_no_links_out(directory)
    for field in ("kind", "name", "factory", "auto_class", "precision"):
        if manifest.get(field) is not None and not isinstance(manifest[field], str):
            raise SpecError(f"{MANIFEST}.{field}", manifest[field], "a string")
    if not isinstance(manifest.get("kind"), str) or manifest["kind"] == "honed":
        raise SpecError(f"{MANIFEST}.kind", manifest.get("kind"), "the kind of the saved base model")
    if manifest.get("factory") is not None:
        check_factory(manifest["factory"], trusted, where)
    if not isinstance(manifest.get("kwargs", {}), dict):
        raise SpecError(f"{MANIFEST}.kwargs", manifest["kwargs"], "an object of keyword arguments")
    files = manifest.get("files", [])
    if not isinstance(files, list):
        raise SpecError(f"{MANIFEST}.files", files, "a list of relative paths")
    for name in files:
        contained_path(directory, name, f"{MANIFEST}.files")
    task = _validated(TaskSpec, manifest.get("recipe_task"), "recipe_task")
    if task is not None:
        check_task_module(task.module, task.name, trusted, where)
    artifact = manifest.get("artifact")
    if artifact is not None:
        if not isinstance(artifact, dict):
            raise SpecError(f"{MANIFEST}.artifact", artifact, "an object with kind, directory and files")
        contained_path(directory, artifact.get("directory"), f"{MANIFEST}.artifact.directory")


def _validated(model_cls: Any, data: Any, field: str) -> Any:
    from honed.validation import build

    return build(model_cls, data, f"{MANIFEST}.{field}") if data is not None else None


@ADAPTERS.register("honed")
class SavedModel:
    """Loads a directory written by ``ModelHandle.save`` with the adapter its manifest names."""

    @classmethod
    def check(cls, ref: ModelRef) -> dict[str, Any]:
        """The manifest, read and checked (in the parent, before any worker starts, and on load)."""
        directory = Path(ref.source)
        manifest = read_manifest(directory)
        check_manifest(directory, manifest, ref.trust_code)
        return manifest

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> ModelHandle:
        directory = Path(ref.source)
        manifest = cls.check(ref)
        saved = adapter(manifest["kind"])
        handle = saved.load_saved(directory, manifest, device, threads, trust_code=ref.trust_code)  # type: ignore[attr-defined]
        if not manifest.get("recipe"):
            return handle
        from honed.optimize import Recipe, optimize

        recipe = manifest["recipe"]
        if not isinstance(recipe, list):
            raise SpecError(f"{MANIFEST}.recipe", recipe, "a list of steps")
        inputs = _validated(InputSpec, manifest.get("recipe_inputs"), "recipe_inputs")
        task = _validated(TaskSpec, manifest.get("recipe_task"), "recipe_task")
        return optimize(handle, Recipe.of(*recipe), target=handle.device, inputs=inputs, task=task)
