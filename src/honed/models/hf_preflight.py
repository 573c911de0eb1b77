"""What a transformers model's local files say before any worker starts: whether its inputs can
be made, what it can do, and its architecture on the meta device (nothing allocated). A hub id
is only known once loaded: these answer None or check nothing for it."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models.capabilities import Capability
from honed.models.hf_config import (
    auto_class,
    auto_class_name,
    has_tokenizer_files,
    image_shape,
    model_class,
)
from honed.models.hf_config import read_config as _config


def check_inputs(ref: ModelRef, inputs: InputSpec) -> None:
    """Before any worker: a vision model with no input shape given must have one in its config; an
    encoder-decoder must say which token starts its decoder."""
    if not Path(ref.source).exists():
        return
    config = _config(ref)
    if getattr(config, "is_encoder_decoder", False) and _decoder_start(ref, config) is None:
        raise SpecError(
            "model",
            ref.source,
            "an encoder-decoder whose config (or generation_config.json) sets decoder_start_token_id",
            hint="honed runs the encoder and the decoder from that token; without it the decoder has no input",
        )
    if inputs.shape is not None:
        return
    name = auto_class_name(ref, config)
    auto_class(name)  # a name that is no Auto class fails here, before any worker
    built = model_class(config, name)
    if built is None:  # the load will say what is wrong
        return
    if getattr(built, "main_input_name", "input_ids") == "pixel_values" and image_shape(config) is None:
        raise SpecError(
            "inputs.shape",
            None,
            "the per-item shape of pixel_values, e.g. [3, 224, 224]",
            hint=f"the config of {ref.source} has no image_size",
        )


def _decoder_start(ref: ModelRef, config: object) -> int | None:
    start = getattr(config, "decoder_start_token_id", None)
    generation = Path(ref.source, "generation_config.json")
    if start is None and generation.is_file():
        start = json.loads(generation.read_text()).get("decoder_start_token_id")
    return start


def meta_module(ref: ModelRef) -> torch.nn.Module | None:
    """The architecture its local config describes, on the meta device (nothing allocated)."""
    if not Path(ref.source).is_dir():
        return None
    config = _config(ref)
    built = model_class(config, auto_class_name(ref, config))
    try:
        with torch.device("meta"):
            return built._from_config(config) if built is not None else None
    except Exception:  # an architecture that cannot be built on meta: nothing is judged
        return None


def static_capabilities(ref: ModelRef) -> frozenset[Capability] | None:
    """From a local directory's config and files; a hub id is only known once loaded."""
    if not Path(ref.source).is_dir():
        return None
    config = _config(ref)
    head = auto_class_name(ref, config)
    tokenizes = has_tokenizer_files(Path(ref.source))
    found = {Capability.TOKENIZES} if tokenizes else set()
    if head == "AutoModelForCausalLM":
        found |= {Capability.SCORES_TOKENS, Capability.GENERATES}
    elif head == "AutoModelForSeq2SeqLM":
        found |= {Capability.GENERATES, Capability.WRITES_TEXT} if tokenizes else {Capability.GENERATES}
    elif head == "AutoModelForSpeechSeq2Seq":
        found.add(Capability.GENERATES)
        if tokenizes and Path(ref.source, "preprocessor_config.json").is_file():
            found.add(Capability.TRANSCRIBES)
    return frozenset(found)
