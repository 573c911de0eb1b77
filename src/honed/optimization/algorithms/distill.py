"""Distillation: a shallower student, initialised from the teacher's own blocks (every other
layer, as DistilBERT was) and trained for a bounded number of steps to reproduce the
teacher's outputs on the model's inputs."""

from __future__ import annotations

import copy

import torch
from pydantic import Field

from honed.core.errors import SpecError
from honed.models.capabilities import Capability
from honed.models.handle import ModelHandle
from honed.models.hf_decoding import is_encoder_decoder
from honed.models.torch_common import TorchBackedHandle
from honed.optimization.algorithm import Context, Params, register_algorithm

TRAINING_SEEDS = 100_000


class LayerDistillParams(Params):
    keep: float = Field(
        default=0.5, gt=0, lt=1, description="share of the repeated blocks kept, evenly spaced, first and last included"
    )
    steps: int = Field(
        default=60,
        ge=0,
        le=10_000,
        description="training steps; the recipe is replayed wherever the model is loaded, so this is bounded",
    )
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=1e-4, gt=0)
    seed: int = 0


def repeated_blocks(module: torch.nn.Module) -> tuple[torch.nn.Module, str, torch.nn.ModuleList] | None:
    """The longest ModuleList of blocks of one class (transformer layers): (parent, name, list)."""
    best = None
    for parent in module.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.ModuleList) and len(child) >= 2 and len({type(c) for c in child}) == 1:
                if best is None or len(child) > len(best[2]):
                    best = (parent, name, child)
    return best


def kept_indices(count: int, keep: float) -> list[int]:
    kept = max(1, round(count * keep))
    if kept == 1:
        return [count - 1]
    return sorted({round(i * (count - 1) / (kept - 1)) for i in range(kept)})


def _shrink(module: torch.nn.Module, found: tuple[torch.nn.Module, str, torch.nn.ModuleList], keep: list[int]) -> None:
    parent, name, blocks = found
    student = torch.nn.ModuleList([blocks[i] for i in keep])
    for index, block in enumerate(student):
        attention = getattr(block, "self_attn", None)
        if attention is not None and hasattr(attention, "layer_idx"):
            attention.layer_idx = index  # decoder layers index their slot in the KV cache
    setattr(parent, name, student)
    for sub in module.modules():  # configs that size caches and masks by layer count
        config = getattr(sub, "config", None)
        if config is not None and hasattr(config, "num_hidden_layers"):
            config.num_hidden_layers = len(keep)
            if getattr(config, "layer_types", None):
                config.layer_types = [config.layer_types[i] for i in keep]


@register_algorithm(
    "layer-distill",
    "distill",
    "keep every other block (DistilBERT-style init) and train it to match the teacher's outputs",
    LayerDistillParams,
    typical_min_cosine=0.8,
    excludes=frozenset({Capability.WRITES_TEXT, Capability.TRANSCRIBES}),  # encoder-decoders (see below)
    export="weights",
    learns=lambda params: True,  # trains the student on the task's items
)  # MiniLM, 3 of 6 layers, 60 steps: see NOTES.md
def layer_distill(handle: TorchBackedHandle, params: LayerDistillParams, context: Context) -> ModelHandle:
    found = repeated_blocks(handle.module)
    if is_encoder_decoder(handle.module):  # a bare T5Model has no capability that ``excludes`` names
        raise SpecError(
            "recipe.layer-distill",
            handle.name,
            "an encoder-only or decoder-only model: an encoder-decoder's two stacks, its relative "
            "position bias (held by the first block) and its cache are not shrunk together",
        )
    if found is None:
        raise SpecError(
            "recipe.layer-distill", handle.name, "a model built from a list of repeated blocks (transformer layers)"
        )
    teacher = handle.with_module(copy.deepcopy(handle.module).eval())  # handle.module is optimize()'s private copy
    _shrink(handle.module, found, kept_indices(len(found[2]), params.keep))
    _train(handle, teacher, params, context)
    return handle


def _train(student, teacher, params: LayerDistillParams, context: Context) -> None:
    """Mean squared error between main outputs on seeded batches of the run's task data, or of
    the model's own inputs without one: deterministic, so every replay trains the same student."""
    torch.manual_seed(params.seed)
    model = student.module.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=params.lr)
    for step in range(params.steps):
        # Seeds far from the small ones that measurements and checks use: train on other sentences.
        batch = context.batch(student, params.batch_size, seed=TRAINING_SEEDS + params.seed + step)
        with torch.no_grad():
            target = teacher.run(batch).main.float()
        loss = torch.nn.functional.mse_loss(student.run(batch).main.float(), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
