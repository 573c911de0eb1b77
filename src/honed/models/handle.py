"""ModelHandle: a loaded model and how to call it, whatever library it comes from."""

from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from honed.models.capabilities import Capability
from honed.models.manifest import ARTIFACT, MANIFEST, MANIFEST_DOCUMENT
from honed.models.output import ModelOutput
from honed.protocol import InputSpec, ModelRef, Step, TaskSpec
from honed.record import ModelStats  # noqa: F401  (a run's value type; handles return it)


class ModelHandle(ABC):
    """Subclasses register with ``@ADAPTERS.register(kind)`` in honed.models.registry."""

    kind: ClassVar[str]
    # What ModelRef.source names: "path" (must exist), "path-or-hub" (a local path or a hub id),
    # or "import" (package.module:function). Checked before any worker starts.
    source_kind: ClassVar[str] = "path"

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
        from honed.errors import SpecError

        raise SpecError("inputs", type(raw).__name__, f"model-scope inputs: {self.kind} models have no pre-processing")

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this loaded model can do beyond ``run`` (see honed.models.capabilities)."""
        return frozenset()

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability] | None:
        """The capabilities ``ref`` will have once loaded, read from its files without loading
        it; None where they cannot be told beforehand (then the worker's load decides)."""
        return None

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
        the recipe that rebuilds it on load (and, for a runtime export, the exported files too)."""
        from honed.fingerprint import PACKAGES, package_version

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
            manifest["artifact"] = {"kind": self.ref.kind, "directory": ARTIFACT, **self.save_files(directory / ARTIFACT)}
        (directory / MANIFEST).write_text(MANIFEST_DOCUMENT.dump(manifest, indent=2, sort_keys=True))
        return directory

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
