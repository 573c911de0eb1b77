"""Reading a saved model's manifest and checking it whole before anything loads (SECURITY.md),
and telling which files a save wrote.

``ModelHandle.save`` (models/handle.py) writes it, in the format ``honed.models.manifest``
names; loading a saved directory (the ``honed`` kind) replays its
recipe, so that lives with the recipes: ``honed.optimization.saved``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from honed.core.errors import ModelLoadError, SpecError
from honed.core.protocol import InputSpec, Step, TaskSpec
from honed.models.manifest import MANIFEST, MANIFEST_DOCUMENT
from honed.models.registry import known_kinds


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest's fields, once its size, nesting, format and version are checked."""
    path = directory / MANIFEST
    if not path.is_file():
        raise ModelLoadError(f"model.source: {directory} has no {MANIFEST}; was it written by ModelHandle.save?")
    return MANIFEST_DOCUMENT.load(path.read_bytes(), str(path))


class SavedManifest(BaseModel):
    """The manifest's fields and their types: anything else is refused before it is used."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    name: str | None = None
    recipe: list[Step] = []
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
    runs no code (SECURITY.md). Code it names needs ``trust_code``; paths stay inside. (The
    task module of its recipe is checked where tasks are known, before the recipe replays.)"""
    from honed.core.trust import check_factory, check_no_links_out, contained_path
    from honed.core.validation import build

    where = f"{directory / MANIFEST}"
    check_no_links_out(directory)
    saved = build(SavedManifest, manifest, MANIFEST)
    if saved.kind in ("honed", "factory") or saved.kind not in known_kinds():
        raise SpecError(
            f"{MANIFEST}.kind",
            saved.kind,
            "the kind of the saved base model: torch, transformers, sentence-transformers, onnx or openvino",
        )
    if saved.kind == "torch" and saved.factory is None:
        raise SpecError(f"{MANIFEST}.factory", None, "'package.module:function' that builds the saved torch module")
    if saved.factory is not None:
        check_factory(saved.factory, trusted, where)
        _check_architecture_size(directory, saved.factory, saved.kwargs)
    for name in saved.files:
        contained_path(directory, name, f"{MANIFEST}.files")
    if saved.artifact is not None:
        contained_path(directory, saved.artifact.get("directory"), f"{MANIFEST}.artifact.directory")
    return saved


def _check_architecture_size(directory: Path, factory: str, kwargs: dict[str, Any]) -> None:
    """The manifest's kwargs must not describe a model far larger than the weights saved beside it:
    data could otherwise make honed allocate without bound before the weights fail to fit."""
    from honed.models.torch_module import meta_state_bytes

    weights = directory / "model.safetensors"
    needed = meta_state_bytes(factory, kwargs)
    if needed is not None and weights.is_file() and needed > 2 * weights.stat().st_size + (1 << 20):
        raise ModelLoadError(
            f"{MANIFEST}: factory {factory!r} with kwargs {kwargs} builds "
            f"{needed} bytes of weights, but {weights.name} holds {weights.stat().st_size}"
        )


def written(directory: Path, write: Callable[[], Any]) -> list[str]:
    """The names ``write()`` added to ``directory`` (top level), sorted."""
    before = set(os.listdir(directory))
    write()
    return sorted(set(os.listdir(directory)) - before)
