"""A causal language model on OpenVINO that decodes without recomputing: the model is exported
with its KV cache as explicit inputs and outputs (one step: new tokens in, logits and the grown
cache out), and OpenVINO's make-stateful transformation then keeps the cache inside the infer
request as state variables, as optimum-intel's stateful export does. Prefill and every decoding
step are the same graph; only the number of new tokens differs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from honed.core.protocol import ModelRef
from honed.models.graph_inputs import token_feed
from honed.models.hf_decoding import takes_logits_to_keep
from honed.models.openvino_model import OpenVinoHandle, Precision
from honed.models.output import ModelOutput
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithms.exported import ExportedDecoder
from honed.optimization.algorithms.runtime import OnnxExport

_PAST_LENGTH = 3  # the traced example's cache length: not 0 or 1, which torch.export would specialise


class _DecoderStep(torch.nn.Module):
    """(input_ids, attention_mask, position_ids[, logit_positions], past key/value per layer) ->
    (logits, present key/value per layer): the cache as plain tensors, the shape an exporter can
    trace. logit_positions (the new tokens' positions whose logits are wanted, transformers'
    logits_to_keep as indices) where the model takes it: a prompt needs its last position's only."""

    module: Any  # a transformers causal LM (its config, its forward's keywords)

    def __init__(self, module: torch.nn.Module, layers: int, keeps_logits: bool):
        super().__init__()
        self.module, self.layers, self.keeps_logits = module, layers, keeps_logits

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor, *rest: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        from transformers import DynamicCache

        keep, past = ({"logits_to_keep": rest[0]}, rest[1:]) if self.keeps_logits else ({}, rest)
        cache = DynamicCache(config=self.module.config)
        for layer in range(self.layers):
            cache.update(past[2 * layer], past[2 * layer + 1], layer)
        output = self.module(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
            **keep,
        )
        return (output.logits, *(t for layer in output.past_key_values.layers for t in (layer.keys, layer.values)))


def export_stateful_decoder(handle: TorchBackedHandle, opset: int) -> tuple[Any, OnnxExport]:
    """The handle's causal LM as a stateful OpenVINO model with inputs input_ids, attention_mask
    (the whole sequence so far), position_ids and, where the model has logits_to_keep,
    logit_positions; and one output, logits."""
    import openvino as ov

    module: Any = handle.module  # a transformers causal LM
    ids = torch.randint(0, int(module.config.vocab_size), (2, 5), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # the cache's layout (layers, heads, head size) as this model makes it
        layers = module(input_ids=ids[:, :_PAST_LENGTH], use_cache=True).past_key_values.layers
    past = [t.detach().clone() for layer in layers for t in (layer.keys, layer.values)]
    keeps_logits = takes_logits_to_keep(module)
    names = ["input_ids", "attention_mask", "position_ids", *(["logit_positions"] if keeps_logits else [])]
    past_names, present_names = cache_names("past", len(layers)), cache_names("present", len(layers))
    batch, new, total, cached, kept = (
        torch.export.Dim(n, min=1, max=32768) for n in ("batch", "new", "total", "cached", "kept")
    )
    mask = torch.ones(2, _PAST_LENGTH + 2, dtype=torch.long)
    positions = torch.arange(_PAST_LENGTH, _PAST_LENGTH + 2).expand(2, 2)
    rest = [torch.arange(2)] * keeps_logits + past  # forward's *rest: one entry of dynamic_shapes
    rest_shapes = tuple([{0: kept}] * keeps_logits + [{0: batch, 2: cached} for _ in past])
    shapes = ({0: batch, 1: new}, {0: batch, 1: total}, {0: batch, 1: new}, rest_shapes)
    files = tempfile.TemporaryDirectory(prefix="honed-export-")
    path = Path(files.name) / "decoder.onnx"
    torch.onnx.export(
        _DecoderStep(module, len(layers), keeps_logits).eval(),
        (ids[:, :2], mask, positions, *rest),
        str(path),
        dynamo=True,
        input_names=names + past_names,
        output_names=["logits", *present_names],
        dynamic_shapes=shapes,
        opset_version=opset,
    )
    model = ov.convert_model(str(path))
    make_stateful(model, dict(zip(past_names, present_names)))
    return model, OnnxExport(files, path, names)


def cache_names(prefix: str, layers: int) -> list[str]:
    """The graph's names for a cache's tensors: prefix.LAYER.key, prefix.LAYER.value, layer by layer."""
    return [f"{prefix}.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]


def make_stateful(model: Any, pairs: dict[str, str]) -> None:
    """Turn each past/present pair into a state variable whose first value is an empty cache
    with the batch size of input_ids (optimum-intel's make_stateful + build_state_initializer)."""
    from openvino import opset13
    from openvino._offline_transformations import apply_make_stateful_transformation

    apply_make_stateful_transformation(model, pairs)
    ids = model.input("input_ids")
    batch = opset13.gather(opset13.shape_of(ids, output_type="i64"), opset13.constant([0]), opset13.constant(0))
    for op in model.get_ops():
        if op.get_type_name() == "ReadValue":
            dims = [d.min_length for d in op.get_output_partial_shape(0)]  # dynamic ones: 0 (an empty cache)
            parts = [batch if i == 0 else opset13.constant(np.array([d], dtype=np.int64)) for i, d in enumerate(dims)]
            zero = opset13.constant(0.0, dtype=op.get_output_element_type(0))
            op.set_arguments([opset13.broadcast(zero, opset13.concat(parts, axis=0))])
    model.validate_nodes_and_infer_types()


def positions_of(mask: np.ndarray) -> np.ndarray:
    """Position ids from an attention mask, as transformers makes them: padding gets 1."""
    positions = np.cumsum(mask, axis=1) - 1
    return np.where(mask == 0, 1, positions).astype(np.int64)


class StatefulDecoderHandle(ExportedDecoder, OpenVinoHandle):
    """Model scope runs the prompt from an empty cache (logits for every position, as the torch
    model gives them); ``greedy_step`` decodes on an infer request of its own per sequence batch,
    so a server interleaving several generations never mixes their caches."""

    def __init__(self, ref: ModelRef, model: Any, compiled: Any, precision: Precision, source: Any, export: OnnxExport):
        super().__init__(ref, "cpu", model, compiled, precision)
        self._exported_from(source, export)
        self._keeps_logits = "logit_positions" in {name for port in model.inputs for name in port.get_names()}

    def prepare(self, batch: Any) -> dict[str, np.ndarray]:
        """Model scope: every position's logits, as the torch model gives them."""
        feed = token_feed(batch)
        return {
            **feed,
            "position_ids": positions_of(feed["attention_mask"]),
            **self._logits_at(feed["input_ids"], every=True),
        }

    def _logits_at(self, new_ids: np.ndarray, every: bool) -> dict[str, np.ndarray]:
        """The logit_positions input (where the graph has one): every new position or the last."""
        if not self._keeps_logits:
            return {}
        count = new_ids.shape[1]
        return {"logit_positions": np.arange(count, dtype=np.int64) if every else np.array([count - 1], np.int64)}

    def forward(self, prepared: dict[str, np.ndarray]) -> ModelOutput:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        request.reset_state()  # model scope: the prompt alone, never after an earlier call's cache
        return ModelOutput.of_arrays(["logits"], [np.array(request.infer(prepared)[0])])

    def next_token_logits(self, ids: list[int]) -> torch.Tensor:
        logits = self.forward(self.prepare({"input_ids": np.array([ids], dtype=np.int64)})).main
        return torch.as_tensor(logits[0]).float()

    def prompt_feed(self, inputs: Any) -> dict[str, np.ndarray]:
        """A generation's first feed: the prompt, its logits wanted at the last position only (what
        transformers' generate asks for with logits_to_keep=1)."""
        feed = self.prepare(inputs)
        return {**feed, **self._logits_at(feed["input_ids"], every=False)}

    def step_feed(self, tokens: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """A decoding step's feed: the new tokens, the mask of the whole sequence so far."""
        return {
            "input_ids": tokens,
            "attention_mask": mask,
            "position_ids": positions_of(mask)[:, -tokens.shape[1] :],
            **self._logits_at(tokens, every=False),
        }

    def greedy_step(self, inputs: Any, state: Any | None) -> tuple[np.ndarray, Any]:
        """Decodes: state is (infer request holding the cache, attention mask so far)."""
        logits, state = self._step(inputs, state)
        return np.asarray(logits.argmax(-1)[:, None], dtype=np.int64), state

    def logits_step(self, inputs: Any, state: Any | None) -> tuple[np.ndarray, Any]:
        logits, state = self._step(inputs, state)
        return np.array(logits), state  # a copy: the request's buffer is reused

    def _step(self, inputs: Any, state: Any | None) -> tuple[np.ndarray, Any]:
        """The last position's logits, in the infer request's own buffer, and the state."""
        if state is None:
            request, feed = self.compiled.create_infer_request(), self.prompt_feed(inputs)
            mask = feed["attention_mask"]
        else:
            request, mask = state
            tokens = np.asarray(inputs, dtype=np.int64)
            mask = np.concatenate([mask, np.ones_like(tokens)], axis=1)
            feed = self.step_feed(tokens, mask)
        return request.infer(feed)[0][:, -1], (request, mask)
