"""sentence-transformers models: model scope is the forward on tokenized features,
pipeline scope is ``encode`` on raw sentences (tokenization + forward + pooling + host copy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from honed.core.errors import ModelLoadError
from honed.core.protocol import InputSpec, ModelRef
from honed.models.capabilities import Capability
from honed.models.output import ModelOutput
from honed.models.persist import written
from honed.models.registry import ADAPTERS
from honed.models.text import synthetic_sentences
from honed.models.torch_common import TorchBackedHandle, prepare_torch, to_device


@ADAPTERS.register("sentence-transformers")
class SentenceTransformerHandle(TorchBackedHandle):
    kind = "sentence-transformers"
    source_kind = "path-or-hub"
    module: Any  # a sentence_transformers.SentenceTransformer: encode, preprocess and save

    def __init__(self, ref: ModelRef, device: str, module: torch.nn.Module):
        super().__init__(ref, device)
        self.module = module.to(device).eval()

    @classmethod
    def load(
        cls, ref: ModelRef, device: str, threads: int | None = None, seed: int | None = None
    ) -> SentenceTransformerHandle:
        from sentence_transformers import SentenceTransformer

        device = prepare_torch(device, threads, seed)
        local = Path(ref.source).exists()
        try:
            model = SentenceTransformer(
                ref.source, device=device, local_files_only=local, trust_remote_code=ref.trust_code
            )  # modules.json may name code
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"model.source: cannot load {ref.source!r}: {error}") from None
        return cls(ref, device, model)

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.TOKENIZES})

    @classmethod
    def static_capabilities(cls, ref: ModelRef) -> frozenset[Capability]:
        return frozenset({Capability.TOKENIZES})  # a sentence-transformers pipeline owns its tokenizer

    def _sentences(self, batch_size: int, inputs: InputSpec, seed: int) -> list[str]:
        # Every item is cut to exactly seq_len tokens: sentences are longer and truncated.
        self.module.max_seq_length = inputs.seq_len
        return synthetic_sentences(batch_size, inputs.seq_len, seed)

    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> dict[str, Any]:
        features = self.module.preprocess(self._sentences(batch_size, inputs, seed))
        return to_device(dict(features), self.device)

    def raw_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> list[str]:
        return self._sentences(batch_size, inputs, seed)

    def preprocess(self, raw: list[str]) -> dict[str, Any]:
        return to_device(dict(self.module.preprocess(raw)), self.device)

    def forward(self, prepared: dict[str, Any]) -> ModelOutput:
        features = self.module(dict(prepared))  # the pipeline adds its outputs to the dict it is given
        extras = {"token_embeddings": features["token_embeddings"]} if "token_embeddings" in features else {}
        return ModelOutput(features["sentence_embedding"], "sentence_embedding", extras)

    def run_pipeline(self, raw: list[str]) -> torch.Tensor:
        if self.grad_mode == "no_grad":  # encode enters inference_mode itself, which quanto's int4 cannot run in
            with self.inference_context():
                return self.forward(self.preprocess(raw)).main.cpu()  # encode's one batch: the same modules
        return self.module.encode(raw, batch_size=len(raw), convert_to_tensor=True, show_progress_bar=False).cpu()

    def deploy_files(self, directory: Path) -> list[str]:
        """A sentence-transformers directory: ``SentenceTransformer(directory)``, pooling included."""
        return written(directory, lambda: self.module.save(str(directory), safe_serialization=True))

    def deploy_preprocessing(self, directory: Path) -> list[str]:
        return written(directory, lambda: self.module.tokenizer.save_pretrained(directory))

    def save_files(self, directory: Path) -> dict[str, Any]:
        self.module.save(str(directory / "model"), safe_serialization=True)
        return {"files": ["model/"]}

    @classmethod
    def load_saved(
        cls, directory: Path, manifest: dict[str, Any], device: str, threads: int | None, trust_code: bool = False
    ) -> SentenceTransformerHandle:
        ref = ModelRef(
            kind="sentence-transformers",
            source=str(directory / "model"),
            name=manifest.get("name"),
            trust_code=trust_code,
        )
        return cls.load(ref, device, threads)
