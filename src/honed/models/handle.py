"""ModelHandle: a loaded model and how to call it, whatever library it comes from."""

from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from honed.core.protocol import InputSpec, ModelRef, Step, TaskSpec
from honed.models.capabilities import Capability
from honed.models.manifest import ARTIFACT, MANIFEST, MANIFEST_DOCUMENT
from honed.models.output import ModelOutput
from honed.records.record import ModelStats  # noqa: F401  (a run's value type; handles return it)


class ModelAdapter:
    """What a model kind answers about a reference, before and while loading it: the hooks the
    run plan and the workers call, each with a default an adapter overrides where its files tell
    more. Registered with ``@ADAPTERS.register(kind)`` in honed.models.registry."""

    kind: ClassVar[str]
    # What ModelRef.source names: "path" (must exist), "path-or-hub" (a local path or a hub id),
    # or "import" (package.module:function). Checked before any worker starts.
    source_kind: ClassVar[str] = "path"

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability] | None:
        """The capabilities ``ref`` will have once loaded, read from its files without loading
        it; None where they cannot be told beforehand (then the worker's load decides)."""
        return None

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> ModelHandle:
        """The model ``ref`` names, loaded onto ``device``."""
        raise NotImplementedError(f"model kind {cls.kind!r} cannot load")

    @classmethod
    def load_structure(
        cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None
    ) -> ModelHandle:
        """The model without its weights, where a runtime step runs files an earlier worker kept;
        an adapter that cannot build it weightless loads it whole."""
        return cls.load(ref, device, threads, seed)

    @classmethod
    def check(cls, ref: ModelRef) -> Any:
        """What can be checked of ``ref`` without loading it (a saved model's manifest)."""
        return None

    @classmethod
    def check_inputs(cls, ref: ModelRef, inputs: InputSpec) -> None:
        """Refuse ``inputs`` that cannot feed this model, where its files tell (an image size)."""

    @classmethod
    def meta_module(cls, ref: ModelRef) -> Any:
        """The model's architecture on the meta device (nothing allocated), or None where it
        cannot be built so; the run plan reads which layer kind holds most parameters from it."""
        return None

    @classmethod
    def load_saved(
        cls, directory: Path, manifest: dict[str, Any], device: str, threads: int | None, trust_code: bool = False
    ) -> ModelHandle:
        """The model a ``honed`` directory keeps in this kind's own files (its manifest says which)."""
        raise NotImplementedError(f"model kind {cls.kind!r} keeps no files of its own in a saved directory")


class ModelHandle(ModelAdapter, ABC):
    """A loaded model and how to call it; its class is the adapter of its kind."""

    def __init__(self, ref: ModelRef, device: str):
        self.ref = ref
        self.device = device
        self.recipe: list[Step] = []  # what optimize() applied, in canonical order
        # Set by optimize(): the unmodified handle the recipe was applied to, and the inputs
        # and task it was given, so the optimised model can be saved and rebuilt by replaying the recipe.
        self.base: ModelHandle | None = None
        self.optimize_inputs: InputSpec | None = None
        self.optimize_task: TaskSpec | None = None
        self.coverage: list[Any] = []  # StepCoverage of each recipe step, when optimize() was asked for it
        # Pipelines that generate (speech to text) stop after this many new tokens per item.
        self.max_new_tokens = 32

    @property
    def name(self) -> str:
        return self.ref.display_name

    @abstractmethod
    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> Any:
        """Synthetic model-scope inputs for one batch, already prepared for this runtime."""

    def prepare(self, batch: Any) -> Any:
        """Any model-scope batch as this runtime's own inputs: a tensor or array for the model's
        main input, or a mapping of them by input name; torch gets tensors on the model's device
        with floats in the weights' dtype, graph runtimes numpy arrays by input name in the graph's
        types. Prepared inputs pass through unchanged, so preparing twice costs nothing."""
        return batch

    @abstractmethod
    def forward(self, prepared: Any) -> ModelOutput:
        """The model call on inputs ``prepare`` returned: what a model-scope measurement times."""

    def run(self, batch: Any) -> ModelOutput:
        """The model-scope call, the same for every runtime and precision: any batch ``prepare``
        accepts in, a ModelOutput (the main output plus named extras) out."""
        return self.forward(self.prepare(batch))

    def raw_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> Any:
        """Synthetic raw inputs for pipeline scope (text for language models)."""
        return self.example_inputs(batch_size, inputs, seed)

    def run_pipeline(self, raw: Any) -> Any:
        """Pre-processing + model + post-processing, from raw input to a host-side result."""
        return self.run(raw)

    def preprocess(self, raw: Any) -> Any:
        """Raw inputs (e.g. text) to model-scope inputs; what a runtime export reuses."""
        from honed.core.errors import SpecError

        raise SpecError("inputs", type(raw).__name__, f"model-scope inputs: {self.kind} models have no pre-processing")

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this loaded model can do beyond ``run`` (see honed.models.capabilities)."""
        return frozenset()

    def synchronize(self) -> None:
        """Wait for queued device work; a no-op on CPU."""

    def inference_context(self) -> Any:
        """The context calls run in (torch: inference_mode)."""
        return contextlib.nullcontext()

    @abstractmethod
    def stats(self) -> ModelStats: ...

    def count_flops(self, batch: Any) -> int | None:
        """FLOPs of one model-scope call, or None where the library cannot count them."""
        return None

    def runtime_info(self) -> dict[str, Any]:
        """Facts of the loaded runtime recorded in the fingerprint (threads, device name)."""
        return {}

    def save(self, directory: str | Path) -> Path:
        """Write this model to an empty ``directory``: an optimised model is saved as its base plus
        the recipe that rebuilds it on load (and, for a runtime export, the exported files too), named
        in honed-manifest.json. Only honed loads it (it replays the recipe); for files that load
        without honed, ``honed.optimization.export.export`` (``honed optimize -o``)."""
        from honed.core.fingerprint import PACKAGES, package_version

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if (directory / MANIFEST).exists():
            raise FileExistsError(f"{directory} already holds a saved model; choose an empty directory")
        origin = self.base or self
        manifest = {
            "kind": origin.ref.kind if origin.ref.kind != "factory" else "torch",
            "name": self.name,
            "recipe": [step.model_dump(mode="json") for step in self.recipe],
            "recipe_inputs": self.optimize_inputs.model_dump(mode="json") if self.optimize_inputs else None,
            "recipe_task": self.optimize_task.model_dump(mode="json") if self.optimize_task else None,
            "libraries": {name: v for name in PACKAGES if (v := package_version(name))},
            **origin.save_files(directory),
        }
        if origin is not self and self.ref.kind != origin.ref.kind:
            # A runtime export (ONNX, OpenVINO IR) is also written as itself: what a deployment loads
            # without honed. Loading the directory still replays the recipe, pre-processing included.
            (directory / ARTIFACT).mkdir()
            manifest["artifact"] = {
                "kind": self.ref.kind,
                "directory": ARTIFACT,
                **self.save_files(directory / ARTIFACT),
            }
        (directory / MANIFEST).write_text(MANIFEST_DOCUMENT.dump(manifest, indent=2, sort_keys=True))
        return directory

    def deploy_files(self, directory: Path) -> list[str]:
        """Write this model into ``directory`` as the files its runtime loads without honed
        (``honed optimize -o``); the names written, relative to ``directory``."""
        return list(self.save_files(directory)["files"])

    def deploy_options(self) -> dict[str, Any]:
        """What the runtime must be told at load to run the written files as honed measured them
        (OpenVINO's inference precision); empty where the files say it all."""
        return {}

    def deploy_preprocessing(self, directory: Path) -> list[str]:
        """Write what turns raw inputs into this model's inputs (a tokenizer, a feature extractor),
        for a deployment of an export of this model to another runtime; the names written."""
        return []

    @abstractmethod
    def save_files(self, directory: Path) -> dict[str, Any]:
        """Write the model's files into ``directory``; return manifest fields needed to load it."""


def sha256_of_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def bytes_on_disk(source: str) -> int | None:
    path = Path(source)
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return None
