"""CTranslate2 as a runtime for a PyTorch Whisper: the model written as a transformers directory,
converted by CTranslate2's own converter (float32 on disk) and run with the ``compute_type`` a
faster-whisper user picks (int8 quantises the weights as it loads). The runtime CPU users already
choose for speech becomes one recipe among the others, measured and judged the same way.

Measured on the shipped utterances (NOTES.md, session 20): converted whisper tiny.en and base
transcribe exactly as CTranslate2's float32 does from the original files."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from honed.core.errors import SpecError
from honed.core.protocol import ModelRef
from honed.models.capabilities import Capability
from honed.models.ctranslate2_model import TRANSCRIBES, CTranslate2WhisperHandle
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, register_algorithm
from honed.optimization.algorithms.runtime import NOT_EXPORTABLE
from honed.optimization.kept_files import keep, reuse
from honed.optimization.space import choice

_KEPT = ["model.bin", "config.json", "vocabulary.json", "tokenizer.json", "preprocessor_config.json"]


class CTranslate2Params(Params):
    compute_type: Literal["int8", "int8_float32", "int8_bfloat16", "float32", "bfloat16"] = Field(
        default="int8",
        description="CTranslate2's compute type: int8 (int8 weights and matmuls, the rest float32 on CPU; "
        "faster-whisper's CPU default), int8_float32 (the same, named explicitly), int8_bfloat16 and "
        "bfloat16 (bf16 activations: CPUs with AVX512-BF16 or AMX), float32 (the converted model as is)",
    )


def _converted(handle: TorchBackedHandle, context: Context) -> tuple[tempfile.TemporaryDirectory, Path]:
    """The handle written with save_pretrained and converted by CTranslate2 (kept for the run's
    other workers, which load it without converting again); where the converted files are."""
    import ctranslate2

    files = tempfile.TemporaryDirectory(prefix="honed-ct2-")
    written, converted = Path(files.name) / "transformers", Path(files.name) / "ctranslate2"
    written.mkdir()
    handle.deploy_files(written)
    copied = [name for name in ("tokenizer.json", "preprocessor_config.json") if (written / name).is_file()]
    ctranslate2.converters.TransformersConverter(str(written), copy_files=copied).convert(str(converted))
    names = [name for name in _KEPT if (converted / name).is_file()]
    return files, keep(context.kept, converted, names, {})


@register_algorithm(
    "ctranslate2",
    "runtime",
    "convert a Whisper model to CTranslate2 (faster-whisper's engine) and transcribe with its "
    "compute type (int8 by default)",
    CTranslate2Params,
    targets=frozenset({"cpu", "cuda"}),
    requires=("ctranslate2",),
    extra="ctranslate2",
    conflicts=NOT_EXPORTABLE | {"structured-prune", "svd-lowrank", "quanto-weights"},
    typical_min_cosine=0.95,
    keeps=TRANSCRIBES,
    needs=frozenset({Capability.TRANSCRIBES}),
    export="runtime",
    space=(
        choice(
            "compute_type",
            "int8",
            "int8_bfloat16",
            "bfloat16",
            "float32",
            why="int8 is faster-whisper's CPU default; bf16 activations pay on AVX512-BF16 / AMX only, and on "
            "Whisper base every int8-weight path lost six words of the shipped utterances (issue 37)",
            ladder=("int8", "int8_bfloat16", "bfloat16", "float32"),
        ),
    ),
)
def to_ctranslate2(handle: TorchBackedHandle, params: CTranslate2Params, context: Context) -> CTranslate2WhisperHandle:
    if Capability.TRANSCRIBES not in handle.capabilities or handle.kind != "transformers":
        raise SpecError(
            "algorithm ctranslate2: model",
            handle.name,
            "a transformers Whisper with its tokenizer and feature extractor (WhisperForConditionalGeneration)",
        )
    files, directory = (None, context.kept) if reuse(context.kept) is not None else _converted(handle, context)
    ref = ModelRef(
        kind="ctranslate2", source=str(directory), name=handle.name, options={"compute_type": params.compute_type}
    )
    converted = CTranslate2WhisperHandle.load(ref, handle.device, torch.get_num_threads() or None)
    converted.files = files  # the converted files live as long as this handle (without a kept directory)
    handle.module.to("meta")  # optimize()'s private copy: its weights are CTranslate2's now
    return converted
