"""GGUF files run by llama.cpp (llama-cpp-python) on the CPU: token ids in, logits out, and greedy
decoding with llama.cpp's own KV cache; text in too where a Hugging Face tokenizer was saved beside
the file (what ``honed optimize -o`` writes for a llama-cpp recipe). Decoding goes through
llama.cpp's C API (one batch per call, logits asked for only where they are read) rather than
``Llama.eval``, which keeps no logits unless every position's are kept."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from honed.core.errors import ModelLoadError, SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models.capabilities import Capability
from honed.models.graph_inputs import token_feed
from honed.models.handle import ModelHandle, ModelStats, sha256_of_files
from honed.models.llama_cpp_batch import decode_batch
from honed.models.llama_cpp_buffers import amx_safe_weight_buffers, built_with_amx, weight_buffers
from honed.models.manifest import EXPORT_DOCUMENT, EXPORT_FILE
from honed.models.output import ModelOutput
from honed.models.registry import ADAPTERS

DEFAULT_CONTEXT = 1024  # tokens of KV cache: a prompt plus its new tokens must fit
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def load_llama(path: str, threads: int | None, context: int, flash_attention: bool = False) -> Any:
    import llama_cpp
    import torch

    # llama-cpp-python's own default is half the logical CPUs (1 of 2 here): honed's other
    # runtimes, and the llama-cpp recipe, take torch's thread count.
    threads = threads or torch.get_num_threads() or None
    # Elsewhere llama.cpp's own choice (its extra buffers are the CPU repack) is the fast one.
    guard = amx_safe_weight_buffers(path) if built_with_amx() else contextlib.nullcontext()
    try:
        with guard:
            return llama_cpp.Llama(
                path,
                n_ctx=context,
                n_batch=min(context, 512),
                n_threads=threads,
                n_threads_batch=threads,
                flash_attn=flash_attention,
                verbose=False,
            )
    except ValueError as error:  # llama-cpp-python reports an unreadable file as ValueError
        raise ModelLoadError(f"model.source: llama.cpp cannot load {path!r}: {error}") from None


@ADAPTERS.register("gguf")
class GgufHandle(ModelHandle):
    """One llama.cpp context: one sequence at a time. A decoding keeps the tokens it has fed; when
    another call used the context in between (a server interleaving streams), the cache is cut
    back to the common prefix and the rest is fed again, so results never mix."""

    kind = "gguf"

    def __init__(self, ref: ModelRef, llama: Any, context: int):
        super().__init__(ref, "cpu")
        self.llama, self.context = llama, context
        self._fed: list[int] = []  # the tokens whose keys and values the cache holds, in order

    @classmethod
    def load(cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None) -> GgufHandle:
        if device not in ("cpu", "auto"):
            raise SpecError(
                "target.device", device, "'cpu' or 'auto' (honed runs GGUF models on llama.cpp's CPU backend)"
            )
        if not Path(ref.source).is_file():
            raise ModelLoadError(f"model.source: no such GGUF file {ref.source!r}")
        context = int(ref.options.get("context", DEFAULT_CONTEXT))
        llama = load_llama(ref.source, threads, context, _flash_attention(ref))
        if not _tokenizer_beside(ref.source):
            return cls(ref, llama, context)
        tokenizer = _load_tokenizer(Path(ref.source).parent)
        if len(tokenizer) > llama.n_vocab():  # another model's tokenizer in the same folder
            raise ModelLoadError(
                f"model.source: the tokenizer beside {ref.source} has {len(tokenizer)} tokens, the GGUF "
                f"{llama.n_vocab()}: not this model's; move it, or the GGUF, to a folder of its own"
            )
        return TokenizedGgufHandle(ref, llama, context, tokenizer)

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability]:
        tokenizes = {Capability.TOKENIZES} if _tokenizer_beside(ref.source) else set()
        return frozenset({Capability.SCORES_TOKENS, Capability.GENERATES, *tokenizes})

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.static_capabilities(self.ref)

    @property
    def vocabulary(self) -> int:
        return int(self.llama.n_vocab())

    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> dict[str, np.ndarray]:
        ids = np.random.default_rng(seed).integers(0, self.vocabulary, (batch_size, inputs.seq_len), dtype=np.int64)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids)}

    def prepare(self, batch: Any) -> dict[str, np.ndarray]:
        return token_feed(batch)

    def _feed(self, tokens: list[int], all_logits: bool, resume: bool = False) -> np.ndarray:
        """Feed ``tokens``; the logits of every fed position ([n, vocabulary]) or of the last one
        ([1, vocabulary]). ``resume`` (a decoding step): only what follows the common prefix with
        what the cache holds. Anything else starts from an empty cache, so a generation always
        pays for its prompt, as on torch and OpenVINO, even when the last one had the same prompt."""
        import llama_cpp

        keep = 0
        while resume and keep < min(len(self._fed), len(tokens) - 1) and self._fed[keep] == tokens[keep]:
            keep += 1
        if all_logits:
            keep = 0  # every position's logits are wanted: feed them all
        if len(tokens) > self.context:
            raise SpecError(
                "inputs.seq_len",
                len(tokens),
                f"at most {self.context} tokens (prompt plus new tokens) for "
                "this llama.cpp model; raise its context option",
            )
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self.llama.ctx), 0, keep, -1)
        self._fed = self._fed[:keep]
        rows = []
        for start in range(keep, len(tokens), self.llama.n_batch):
            chunk = tokens[start : start + self.llama.n_batch]
            wanted = range(len(chunk)) if all_logits else [len(chunk) - 1]
            rows.append(self._decode(chunk, start, set(wanted)))
            self._fed += chunk
        return np.concatenate(rows) if all_logits else rows[-1]

    def _decode(self, chunk: list[int], start: int, wanted: set[int]) -> np.ndarray:
        entries = [(token, start + i, 0, i in wanted) for i, token in enumerate(chunk)]
        return decode_batch(self.llama.ctx, entries, self.vocabulary)

    def _sequences(self, prepared: dict[str, np.ndarray]) -> list[list[int]]:
        return [ids[mask == 1].tolist() for ids, mask in zip(prepared["input_ids"], prepared["attention_mask"])]

    def forward(self, prepared: dict[str, np.ndarray]) -> ModelOutput:
        """Every position's logits, one sequence at a time (padding positions get zeros)."""
        ids, mask = prepared["input_ids"], prepared["attention_mask"]
        logits = np.zeros((*ids.shape, self.vocabulary), dtype=np.float32)
        for row, tokens in enumerate(self._sequences(prepared)):
            logits[row, mask[row] == 1] = self._feed(tokens, all_logits=True)
        return ModelOutput.of_arrays(["logits"], [logits])

    def next_token_logits(self, ids: list[int]) -> Any:
        import torch

        return torch.from_numpy(self._feed(list(ids), all_logits=True)).float()

    def greedy_step(self, inputs: Any, state: Any | None) -> tuple[np.ndarray, Any]:
        """Decodes: state is the token ids fed so far (one sequence: llama.cpp here has one)."""
        logits, state = self.logits_step(inputs, state)
        return np.array([[int(logits[0].argmax())]], dtype=np.int64), state

    def logits_step(self, inputs: Any, state: Any | None) -> tuple[np.ndarray, Any]:
        if state is None:
            sequences = self._sequences(self.prepare(inputs))
            if len(sequences) != 1:
                raise SpecError(
                    "protocol.batch_sizes",
                    len(sequences),
                    "1 for a llama.cpp model (it decodes one sequence at a time here)",
                )
            tokens = sequences[0]
        else:
            tokens = state + [int(np.asarray(inputs).reshape(-1)[0])]
        return self._feed(tokens, all_logits=False, resume=state is not None), tokens

    def parallel_sequences(self, slots: int) -> Any:
        """A decoder of up to ``slots`` sequences at once, each with this handle's context length
        (``honed serve``'s concurrent completions): a llama.cpp context of its own."""
        from honed.models.gguf_sequences import LlamaSequences

        return LlamaSequences(self.llama, slots, self.context)

    def stats(self) -> ModelStats:
        import llama_cpp

        path = Path(self.ref.source)
        return ModelStats(
            parameters=int(llama_cpp.llama_model_n_params(self.llama.model)),
            bytes_in_memory=path.stat().st_size,
            bytes_on_disk=path.stat().st_size,
            dtype=self.ref.options.get("quantization"),
            device="cpu",
            weights_sha256=sha256_of_files([path]),
        )

    def runtime_info(self) -> dict[str, Any]:
        import llama_cpp

        return {
            "device": "cpu",
            "threads": self.llama.n_threads,
            "llama_cpp": llama_cpp.__version__,
            "llama_cpp_system": llama_cpp.llama_print_system_info().decode(),
            "llama_cpp_weight_buffers": weight_buffers(self.ref.source),
            "flash_attention": self.flash_attention,
        }

    @property
    def flash_attention(self) -> bool:
        """Whether llama.cpp runs this model with its fused attention (what its context was built with)."""
        return int(self.llama.context_params.flash_attn_type) == 1

    def deploy_options(self) -> dict[str, Any]:
        return {"flash_attention": True} if self.flash_attention else {}

    def save_files(self, directory: Path) -> dict[str, Any]:
        import shutil

        shutil.copyfile(self.ref.source, directory / "model.gguf")
        precision = self.ref.options.get("quantization")
        return {"files": ["model.gguf"], "precision": precision, "flash_attention": self.flash_attention}

    @classmethod
    def load_saved(
        cls, directory: Path, manifest: dict[str, Any], device: str, threads: int | None, trust_code: bool = False
    ) -> GgufHandle:
        ref = ModelRef(
            kind="gguf",
            source=str(directory / "model.gguf"),
            name=manifest.get("name"),
            options={"quantization": manifest.get("precision"), "flash_attention": manifest.get("flash_attention")},
        )
        return cls.load(ref, device, threads)


class TokenizedGgufHandle(GgufHandle):
    """A GGUF file with its Hugging Face tokenizer beside it: prompts in as text, so it completes
    (``honed serve``'s OpenAI routes) and scores text (perplexity) as the model it came from did."""

    def __init__(self, ref: ModelRef, llama: Any, context: int, tokenizer: Any):
        super().__init__(ref, llama, context)
        self.tokenizer = tokenizer

    def token_ids(self, text: str, special_tokens: bool = True) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special_tokens)["input_ids"])

    def preprocess(self, raw: Any) -> dict[str, np.ndarray]:
        texts = [raw] if isinstance(raw, str) else list(raw)
        return token_feed(dict(self.tokenizer(texts, padding=len(texts) > 1, return_tensors="np")))


def _flash_attention(ref: ModelRef) -> bool:
    """llama.cpp's fused attention: the model's option, else what ``honed optimize -o`` measured the
    file with (its honed-export.json beside it), else off (llama-cpp-python's default)."""
    if ref.options.get("flash_attention") is not None:
        return bool(ref.options["flash_attention"])
    export = Path(ref.source).parent / EXPORT_FILE
    if Path(ref.source).suffix == ".gguf" and export.is_file():
        options = EXPORT_DOCUMENT.load(export.read_bytes(), str(export)).get("load_options", {})
        return bool(options.get("flash_attention", False))
    return False


def _tokenizer_beside(source: str) -> bool:
    folder = Path(source).parent
    return Path(source).suffix == ".gguf" and any((folder / name).is_file() for name in TOKENIZER_FILES)


def _load_tokenizer(folder: Path) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ModelLoadError(
            f"model.source: {folder} holds a tokenizer for its GGUF; reading it needs transformers "
            "(pip install 'honed[transformers]')"
        ) from None
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:  # a batch of prompts is padded (the mask keeps padding out)
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
