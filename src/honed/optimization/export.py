"""An optimised model written as the files its runtime deploys, loadable without honed: a
transformers or sentence-transformers directory (``save_pretrained``), a module's safetensors,
an ONNX graph, an OpenVINO IR or a GGUF file. Each algorithm declares whether the model it
changed can be written so (``Algorithm.export``); a recipe with a step that cannot is refused
before any work, with the step's reason."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from honed.core.errors import RecipeError, SpecError
from honed.core.protocol import Step
from honed.models.handle import ModelHandle
from honed.models.manifest import EXPORT_DOCUMENT, EXPORT_FILE
from honed.optimization.algorithm import ALGORITHMS

# The file a runtime's artifact is loaded from (the other kinds load the directory itself).
MAIN_FILE = {"onnx": "model.onnx", "openvino": "model.xml", "gguf": "model.gguf"}

# Steps that leave plain torch layers, which a runtime step after them converts with the rest.
CONVERTED_BY_A_RUNTIME = frozenset({"prune", "factorize", "distill", "precision"})


def check_exportable(steps: Sequence[Step]) -> None:
    """Refuse, before any work, a recipe whose result cannot be written as a deployable model."""
    runtime_last = bool(steps) and ALGORITHMS.get(steps[-1].algorithm).export == "runtime"
    for step in steps:
        algorithm = ALGORITHMS.get(step.algorithm)
        if algorithm.export is None and not (runtime_last and algorithm.family in CONVERTED_BY_A_RUNTIME):
            raise RecipeError(
                f"recipe step {step.algorithm!r} cannot be written as a model that loads without honed: "
                f"{algorithm.export_note}"
            )


def export(handle: ModelHandle, directory: str | Path) -> list[str]:
    """Write ``handle`` (what ``optimize`` returned) into the new or empty ``directory`` as the files
    its runtime loads, plus ``honed-export.json`` (the recipe, the kind, the files). Returns the files."""
    check_exportable(handle.recipe)
    directory = Path(directory)
    check_output(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = handle.deploy_files(directory)
    origin = handle.base or handle
    if handle.ref.kind != origin.ref.kind:
        files += origin.deploy_preprocessing(directory)  # a runtime export still needs the tokenizer
    files = sorted(set(files))
    description = {
        "kind": handle.kind,
        "files": files,
        "recipe": [step.model_dump(mode="json") for step in handle.recipe],
        "load_options": handle.deploy_options(),
        "base": {"kind": origin.ref.kind, "source": origin.ref.source, "name": origin.name},
    }
    (directory / EXPORT_FILE).write_text(EXPORT_DOCUMENT.dump(description, indent=2, sort_keys=True))
    return files


def check_output(directory: Path) -> None:
    """Refuse a directory that holds anything (or a file): nothing is overwritten."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise SpecError("--output", str(directory), "a new or empty directory (nothing is overwritten)")


def read_export(directory: str | Path) -> dict[str, Any]:
    """What ``export`` wrote about the artifact in ``directory``."""
    path = Path(directory) / EXPORT_FILE
    return EXPORT_DOCUMENT.load(path.read_bytes(), str(path))


def size_on_disk(directory: str | Path, files: Sequence[str]) -> int:
    """Bytes of the artifact's files (a directory entry counts everything under it)."""
    total = 0
    for name in files:
        path = Path(directory) / name
        paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in paths)
    return total


def loading_hint(kind: str, directory: str | Path, options: dict[str, Any] | None = None) -> str:
    """One line of Python that loads the artifact in ``directory`` without honed, told ``options``."""
    where = Path(directory)
    file = MAIN_FILE.get(kind)
    path = json.dumps(str(where / file) if file else str(where))
    compute_type = json.dumps((options or {}).get("compute_type", "default"))
    flash = ", flash_attn=True" if (options or {}).get("flash_attention") else ""
    return {
        "transformers": f"transformers.AutoModel.from_pretrained({path}, dtype='auto')  # or its head's Auto class",
        "sentence-transformers": f"sentence_transformers.SentenceTransformer({path})",
        "onnx": f"onnxruntime.InferenceSession({path})",
        "openvino": f"openvino.Core().compile_model({path}, 'CPU', {json.dumps(options or {})})",
        "gguf": f"llama_cpp.Llama(model_path={path}{flash})",
        "ctranslate2": f"faster_whisper.WhisperModel({path}, compute_type={compute_type})  # or ctranslate2",
    }.get(kind, f"safetensors.torch.load_model(your_module, {json.dumps(str(where / 'model.safetensors'))})")


def artifact_source(directory: str | Path) -> tuple[str, str] | None:
    """(model kind, source) that loads an artifact ``export`` wrote, for honed's own commands
    (``honed evaluate DIR``); None where ``directory`` holds none, or one only its factory rebuilds."""
    directory = Path(directory)
    if not (directory / EXPORT_FILE).is_file():
        return None
    kind = read_export(directory)["kind"]
    file = MAIN_FILE.get(kind)
    if file is None and kind not in ("transformers", "sentence-transformers", "ctranslate2"):
        return None
    return kind, str(directory / file) if file else str(directory)
