"""Saved models: the adapter's files (safetensors, or ONNX) plus a JSON manifest that names
the adapter, the recipe that produced the model, and the library versions it was saved with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from honed.errors import ModelLoadError
from honed.models.handle import ModelHandle
from honed.models.registry import ADAPTERS, adapter
from honed.protocol import ModelRef

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


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"model.source: {directory} has no {MANIFEST}; was it written by ModelHandle.save?")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ModelLoadError(
            f"{path}: format {manifest.get('format')!r} version {manifest.get('format_version')!r} "
            f"is not {FORMAT!r} version <= {FORMAT_VERSION}; upgrade honed to load it"
        )
    return manifest


@ADAPTERS.register("honed")
class SavedModel:
    """Loads a directory written by ``ModelHandle.save`` with the adapter its manifest names."""

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> ModelHandle:
        directory = Path(ref.source)
        manifest = read_manifest(directory)
        handle = adapter(manifest["kind"]).load_saved(directory, manifest, device, threads)  # type: ignore[attr-defined]
        if not manifest.get("recipe"):
            return handle
        from honed.optimize import Recipe, optimize
        from honed.protocol import InputSpec, TaskSpec

        inputs = InputSpec.model_validate(manifest["recipe_inputs"]) if manifest.get("recipe_inputs") else None
        task = TaskSpec.model_validate(manifest["recipe_task"]) if manifest.get("recipe_task") else None
        return optimize(handle, Recipe.of(*manifest["recipe"]), target=handle.device, inputs=inputs, task=task)
