"""What a model exported to another runtime keeps of the torch handle it came from: its inputs,
its pre-processing and, for a decoder, its tokenizer (mixed into each runtime's handle class)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec
from honed.models.capabilities import KEPT_BY_DECODER_EXPORT, KEPT_BY_EXPORT, Capability
from honed.models.output import ModelOutput


class SourceInputs:
    """Inputs and pre-processing of an exported model come from the torch handle it was exported
    from (real tokenized text for language models), whose weights were moved to the meta device."""

    source: Any
    if TYPE_CHECKING:  # what the handle class this is mixed into gives
        kind: str

        def prepare(self, batch: Any) -> Any: ...

        def run(self, batch: Any) -> ModelOutput: ...

    def _exported_from(self, source: Any, export: Any) -> None:
        self.source = source
        self._export = export  # the exported files (an OnnxExport, a temporary directory) live as long as this handle

    def example_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> dict[str, np.ndarray]:
        return self.prepare(self.source.example_inputs(batch_size, inputs, seed))

    def raw_inputs(self, batch_size: int, inputs: InputSpec, seed: int) -> Any:
        raise SpecError("protocol.scope", "pipeline", f"'model' for a model exported to {self.kind}")

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.source.capabilities & KEPT_BY_EXPORT

    def preprocess(self, raw: Any) -> dict[str, np.ndarray]:
        """The source model's pre-processing (e.g. its tokenizer), as the exported graph's feed."""
        return self.prepare(self.source.preprocess(raw))

    def run_pipeline(self, raw: Any) -> torch.Tensor:
        return self.run(self.preprocess(raw)).main


class ExportedDecoder(SourceInputs):
    """A causal LM exported to a runtime that decodes: it keeps its source's tokenizer, scores
    tokens and generates."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.source.capabilities & KEPT_BY_DECODER_EXPORT

    @property
    def tokenizer(self) -> Any:
        return self.source.tokenizer

    def token_ids(self, text: str, special_tokens: bool = True) -> list[int]:
        return self.source.token_ids(text, special_tokens)
