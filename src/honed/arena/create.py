"""``honed arena create``: each contestant (a model, or one model under several recipes) answers
every prompt once, and the outputs are stored with the pairs voters will see. Text comes from a
causal language model (greedy, the served model's decoding); an image from a model whose output
is one (its input: noise seeded by the prompt, so both contestants draw from the same seed)."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from honed.arena.tables import ArenaRow, PairRow
from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef, Step
from honed.models.capabilities import Capability
from honed.store.database import Store

MAX_PROMPTS = 500
IMAGE_SCALE = 4  # small generated images are shown enlarged (nearest neighbour)


@dataclass(frozen=True)
class Contestant:
    model: ModelRef
    recipe: tuple[Step, ...] = ()

    @property
    def label(self) -> str:
        steps = " + ".join(step.algorithm for step in self.recipe) or "base"
        return f"{self.model.display_name} · {steps}"


def create_arena(
    store: Store,
    name: str,
    contestants: list[Contestant],
    prompts: list[str],
    inputs: InputSpec,
    max_tokens: int = 32,
    on_progress: Any = None,
) -> str:
    if len(contestants) < 2:
        raise SpecError("arena.contestants", len(contestants), "two or more models or recipes to compare")
    if len({c.label for c in contestants}) < len(contestants):
        raise SpecError("arena.contestants", [c.label for c in contestants], "different models or recipes")
    if not 1 <= len(prompts) <= MAX_PROMPTS:
        raise SpecError("arena.prompts", len(prompts), f"1 to {MAX_PROMPTS} prompts")
    kinds, outputs = set(), []
    for contestant in contestants:
        kind, answers = _answers(contestant, prompts, inputs, max_tokens)
        kinds.add(kind)
        outputs.append(answers)
        if on_progress:
            on_progress(contestant.label)
    if len(kinds) > 1:
        raise SpecError(
            "arena.contestants", [c.label for c in contestants], "models of one output kind (all text or all images)"
        )
    arena_id = uuid.uuid4().hex
    arena = ArenaRow(
        id=arena_id,
        name=name[:200],
        created_at=datetime.now(timezone.utc),
        kind=kinds.pop(),
        contestants=[
            {
                "label": c.label,
                "model": c.model.model_dump(mode="json"),
                "recipe": [s.model_dump(mode="json") for s in c.recipe],
            }
            for c in contestants
        ],
        prompts=prompts,
        outputs=outputs,
    )
    pairs = [
        PairRow(arena_id=arena_id, prompt=p, first=i, second=j)
        for p in range(len(prompts))
        for i, j in itertools.combinations(range(len(contestants)), 2)
    ]
    store.transaction(lambda session: session.add_all([arena, *pairs]))
    return arena_id


def _answers(contestant: Contestant, prompts: list[str], inputs: InputSpec, max_tokens: int) -> tuple[str, list[str]]:
    from honed.serve.server import loaded

    handle = loaded(contestant.model, list(contestant.recipe), inputs)
    if Capability.GENERATES in handle.capabilities and getattr(handle, "tokenizer", None) is not None:
        from honed.serve.openai import greedy_pieces

        return "text", ["".join(greedy_pieces(handle, prompt, max_tokens)) for prompt in prompts]
    if inputs.shape is None:
        raise SpecError(
            "arena.shape",
            None,
            "the input shape of an image model (e.g. 3x8x8): its input is noise seeded by each prompt",
        )
    return "image", [_png(handle.run(_noise(prompt, inputs.shape)).main) for prompt in prompts]


def _noise(prompt: str, shape: tuple[int, ...]) -> Any:
    import torch

    seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "little")
    return torch.randn((1, *shape), generator=torch.Generator().manual_seed(seed))


def _png(image: Any) -> str:
    """A model's output as a PNG data URL: (1, C, H, W) or (1, H, W), values in [0, 1]."""
    import numpy as np
    from PIL import Image

    array = image.detach().float().cpu().numpy() if hasattr(image, "detach") else np.asarray(image, dtype=np.float32)
    array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3):
        array = array.transpose(1, 2, 0)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3)):
        raise SpecError(
            "arena.model",
            list(image.shape),
            "a model whose output is text or an image (1 x C x H x W with C of 1 or 3, or 1 x H x W)",
        )
    pixels = (np.clip(array.squeeze(), 0, 1) * 255).round().astype(np.uint8)
    picture = Image.fromarray(pixels)
    picture = picture.resize((picture.width * IMAGE_SCALE, picture.height * IMAGE_SCALE), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
