"""The ``honed`` model kind: a directory written by ``ModelHandle.save``, loaded with the adapter
its manifest names and rebuilt by replaying its recipe. It lives with the recipes because it
replays one. ``ModelHandle.save`` writes the manifest; ``honed.models.persist`` reads and checks it."""

from __future__ import annotations

from pathlib import Path

from honed.core.protocol import ModelRef
from honed.models.handle import ModelAdapter, ModelHandle
from honed.models.persist import MANIFEST, SavedManifest, check_manifest, read_manifest
from honed.models.registry import ADAPTERS, adapter
from honed.tasks.base import check_task_module


@ADAPTERS.register("honed")
class SavedModel(ModelAdapter):
    """Loads a directory written by ``ModelHandle.save`` with the adapter its manifest names."""

    kind = "honed"

    @classmethod
    def check(cls, ref: ModelRef) -> SavedManifest:
        """The manifest, read and checked (in the parent, before any worker starts, and on load)."""
        directory = Path(ref.source)
        saved = check_manifest(directory, read_manifest(directory), ref.trust_code)
        if saved.recipe_task is not None:
            check_task_module(
                saved.recipe_task.module, saved.recipe_task.name, ref.trust_code, str(directory / MANIFEST)
            )
        return saved

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> ModelHandle:
        directory = Path(ref.source)
        saved = cls.check(ref)
        handle = adapter(saved.kind).load_saved(
            directory, saved.model_dump(), device, threads, trust_code=ref.trust_code
        )
        if not saved.recipe:
            return handle
        from honed.optimization import Recipe, optimize

        return optimize(
            handle, Recipe.of(*saved.recipe), target=handle.device, inputs=saved.recipe_inputs, task=saved.recipe_task
        )
