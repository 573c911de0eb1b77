"""llama.cpp runtime for Llama-family causal LMs: the torch model written as GGUF, quantized by
llama.cpp's own quantizer (its Q8_0 / Q4_0 / Q4_K_M block formats), and run by llama-cpp-python
with llama.cpp's KV cache. Measured on 2 AVX2 cores, Llama-3.2-1B architecture, 128-token prompt:
fp32 eager PyTorch 3.0 tokens/s; OpenVINO int4 (NNCF, group 128) 6.2; llama.cpp Q4_0 13.0,
Q4_K_M 13.4 (NOTES.md, session 10), so this is honed's int4 decoding path on CPU."""

from __future__ import annotations

import ctypes
import tempfile
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field

from honed.core.errors import SpecError
from honed.core.protocol import ModelRef
from honed.models.capabilities import KEPT_BY_DECODER_EXPORT, Capability
from honed.models.gguf_model import DEFAULT_CONTEXT, GgufHandle, load_llama
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, Variant, register_algorithm
from honed.optimization.algorithms.exported import ExportedDecoder
from honed.optimization.algorithms.gguf_export import write_gguf
from honed.optimization.algorithms.runtime import NOT_EXPORTABLE
from honed.optimization.kept_files import keep, reuse
from honed.optimization.space import choice

QUANTIZATIONS = ("f32", "f16", "q8_0", "q4_0", "q4_k_m")


class LlamaCppParams(Params):
    quantization: Literal["f32", "f16", "q8_0", "q4_0", "q4_k_m"] = Field(
        default="q4_k_m",
        description="llama.cpp's weight format: q8_0 (int8 blocks of 32), q4_0 (int4 blocks of "
        "32, one scale each), q4_k_m (int4 super-blocks with 6-bit scales; some layers q6_k: closer, as fast here)",
    )
    output_type: Literal["default", "f16", "q8_0", "q6_k"] = Field(
        default="default",
        description="the token embedding and output projection's format (one table where they are tied, as in "
        "SmolLM2 and Llama-3.2): default is llama.cpp's choice (q6_k for q4_k_m, the quantization's own type "
        "otherwise); a wider one keeps the next-token distribution closer for a few more bytes per token",
    )
    flash_attention: bool = Field(
        default=False,
        description="llama.cpp's fused attention (llama-cpp-python's default is off, llama.cpp's own tools' "
        "auto): SmolLM2 q8_0 on 2 AVX-512 vCPUs, a decoding step 8.5 against 9.3-10 ms for one sequence, "
        "27 against 33-37 ms for eight; KL to the torch model 0.00394 against 0.00383 on real text",
    )
    context: int = Field(
        default=DEFAULT_CONTEXT,
        ge=16,
        le=131072,
        description="tokens of KV cache: a prompt plus its new tokens must fit",
    )


class ExportedGgufHandle(ExportedDecoder, GgufHandle):
    """Tokenizer and synthetic inputs from the torch handle it was written from."""

    def __init__(self, ref: ModelRef, llama: Any, context: int, source: Any, files: tempfile.TemporaryDirectory | None):
        super().__init__(ref, llama, context)
        self._exported_from(source, files)  # the GGUF file lives as long as this handle


def _quantize(source: Path, target: Path, quantization: str, output_type: str = "default") -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quantization.upper()}")
    if output_type != "default":
        kind = getattr(llama_cpp, f"GGML_TYPE_{output_type.upper()}")
        params.output_tensor_type, params.token_embedding_type = kind, kind
    params.nthread = torch.get_num_threads() or 0
    if llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params)) != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source.name} to {quantization}")


def _written(
    handle: TorchBackedHandle, params: LlamaCppParams, name: str, context: Context
) -> tuple[tempfile.TemporaryDirectory, Path]:
    """The GGUF file, written and quantized, kept for the run's other workers; where it is."""
    module: Any = handle.module  # a transformers causal LM
    width = module.get_input_embeddings().weight.shape[-1]
    if params.output_type == "q6_k" and width % 256:  # llama.cpp's k-quant blocks are 256 wide
        raise SpecError(
            "algorithm llama-cpp: output_type",
            "q6_k",
            f"default, f16 or q8_0 for a model whose hidden size ({width}) is not a multiple of 256 (q6_k's block)",
        )
    files = tempfile.TemporaryDirectory(prefix="honed-gguf-")
    path = write_gguf(handle.module, Path(files.name) / "model-f32.gguf", vocabulary_from=handle.ref.source)
    if params.quantization != "f32":
        _quantize(path, Path(files.name) / name, params.quantization, params.output_type)
        path.unlink()  # the f32 file is as large as the torch weights
    return files, keep(context.kept, Path(files.name), [name], {}) / name


# What a knob search walks (tune --search); the evidence is SmolLM2-135M on real text (session 20, issue 37).
SPACE = (
    choice(
        "quantization",
        "q8_0",
        "q4_k_m",
        "q4_0",
        "f16",
        why="the weight format sets the bytes read per token, so the decoding speed: q4_k_m failed KL 0.01 on "
        "SmolLM2 where q8_0 held it; q4_0 lost +27.7 % perplexity on held-out paragraphs",
        ladder=("q4_0", "q4_k_m", "q8_0", "f16"),
    ),
    choice(
        "output_type",
        "default",
        "f16",
        "q8_0",
        when={"quantization": ("q8_0", "q4_0", "q4_k_m")},
        why="the tied embedding/output table: q8_0 alone failed the KL guardrail on SmolLM2, with the table "
        "in f16 it held (+0.1 % perplexity on held-out text) at 5.18x. Not q6_k: llama.cpp's default takes it "
        "where the table's width is a multiple of 256 and forcing it fails elsewhere (SmolLM2's 576)",
        ladder=("q8_0", "f16"),  # llama.cpp's own choice (default) ranks below them
    ),
    choice(
        "flash_attention",
        False,
        True,
        why="llama.cpp's fused attention: SmolLM2 q8_0 on 2 AVX-512 vCPUs decoded a step in 8.5 against "
        "9.3-10 ms (27 against 33-37 ms for eight sequences), KL to the torch model 0.00394 against 0.00383; "
        "whether it wins depends on the CPU's kernels",
    ),
)

# The hand-found start for a language model's search (and a default tune's candidate).
LM_Q8_F16_TABLE = Variant(
    params={"quantization": "q8_0", "output_type": "f16"},
    needs=frozenset({Capability.SCORES_TOKENS}),
    suited="a causal language model",
    why="q8_0 with the tied table in f16: SmolLM2-135M 5.18x at +0.1 % perplexity on held-out text",
)


@register_algorithm(
    "llama-cpp",
    "runtime",
    "write a Llama-family causal LM as GGUF, quantize it with llama.cpp (q8_0, q4_0, q4_k_m) and decode with llama.cpp",
    LlamaCppParams,
    targets=frozenset({"cpu"}),
    requires=("llama_cpp", "gguf"),
    extra="llm",
    conflicts=NOT_EXPORTABLE | {"structured-prune", "svd-lowrank", "quanto-weights"},
    typical_min_cosine=0.9,
    keeps=KEPT_BY_DECODER_EXPORT,
    needs=frozenset({Capability.SCORES_TOKENS}),  # a causal language model
    export="runtime",
    variants=(LM_Q8_F16_TABLE,),
    space=SPACE,
)
def to_llama_cpp(handle: TorchBackedHandle, params: LlamaCppParams, context: Context) -> ExportedGgufHandle:
    if Capability.SCORES_TOKENS not in handle.capabilities:
        raise SpecError("algorithm llama-cpp: model", handle.name, "a causal language model (AutoModelForCausalLM)")
    output = "" if params.output_type == "default" else f"-output-{params.output_type}"
    name = f"model-{params.quantization}{output}.gguf"
    kept = context.kept
    files, path = (
        (None, kept / name) if kept is not None and reuse(kept) is not None else _written(handle, params, name, context)
    )
    threads = torch.get_num_threads() or None
    size = min(params.context, int(getattr(handle.module.config, "max_position_embeddings", params.context)))
    options = {"quantization": params.quantization, "output_type": params.output_type, "context": size,
               "flash_attention": params.flash_attention}  # fmt: skip
    ref = ModelRef(kind="gguf", source=str(path), name=handle.name, options=options)
    llama = load_llama(str(path), threads, size, params.flash_attention)
    handle.module.to("meta")  # optimize()'s private copy: keep its tokenizer/config, free its weights
    return ExportedGgufHandle(ref, llama, size, handle, files)
