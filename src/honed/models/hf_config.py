"""What a Hugging Face config already says about a model: which Auto class builds it (from
``config.architectures``) and the shape of one input item (``num_channels`` x ``image_size``).
Read before any worker starts, so that a user need not repeat it in options."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from honed.core.errors import ModelLoadError, SpecError
from honed.core.protocol import ModelRef

# Task heads in the order they are tried; the first whose mapping lists the architecture wins.
_HEADS = (
    ("AutoModelForCausalLM", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"),
    ("AutoModelForSpeechSeq2Seq", "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES"),
    ("AutoModelForSeq2SeqLM", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"),
    ("AutoModelForImageClassification", "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES"),
    ("AutoModelForSemanticSegmentation", "MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING_NAMES"),
    ("AutoModelForDepthEstimation", "MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES"),
    ("AutoModelForObjectDetection", "MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES"),
    ("AutoModelForCTC", "MODEL_FOR_CTC_MAPPING_NAMES"),
    ("AutoModelForAudioClassification", "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES"),
    ("AutoModelForMaskedLM", "MODEL_FOR_MASKED_LM_MAPPING_NAMES"),
    ("AutoModelForSequenceClassification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"),
    ("AutoModelForTokenClassification", "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES"),
    ("AutoModelForQuestionAnswering", "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES"),
)


def infer_auto_class(config: Any) -> str:
    """The Auto class for ``config.architectures[0]``; ``AutoModel`` (the bare encoder) otherwise."""
    from transformers.models.auto import modeling_auto

    architectures = getattr(config, "architectures", None) or []
    model_type = getattr(config, "model_type", None)
    if not architectures or not model_type:
        return "AutoModel"
    for auto_class, mapping_name in _HEADS:
        names = getattr(modeling_auto, mapping_name, {}).get(model_type, ())
        if architectures[0] in ((names,) if isinstance(names, str) else tuple(names)):
            return auto_class
    return "AutoModel"


def image_shape(config: Any) -> tuple[int, ...] | None:
    """(channels, height, width) of a vision model's pixel_values, where its config says so."""
    size = getattr(config, "image_size", None)
    if size is None:
        return None
    channels = int(getattr(config, "num_channels", 3))
    if isinstance(size, int):
        return (channels, size, size)
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return (channels, int(size[0]), int(size[1]))
    return None


# Files that AutoTokenizer reads; save_pretrained of any tokenizer writes tokenizer_config.json.
_TOKENIZER_FILES = (
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.json",
    "vocab.txt",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
)


def has_tokenizer_files(directory: Path) -> bool:
    return any((directory / name).is_file() for name in _TOKENIZER_FILES)


def model_class(config: Any, auto_class_name: str) -> Any:
    """The transformers class that ``auto_class_name`` builds for ``config``, or None."""
    import transformers

    auto: Any = getattr(transformers, auto_class_name, None)
    try:
        return auto._model_mapping[type(config)]
    except (KeyError, AttributeError, TypeError):
        return None


def read_config(ref: ModelRef) -> Any:
    """The model's config, read once per version of its config.json: the plan's checks (inputs,
    capabilities, layers) all ask for it; each caller gets its own copy to change."""
    config_file = Path(ref.source, "config.json")
    stamp = (config_file.stat().st_mtime_ns, config_file.stat().st_size) if config_file.is_file() else None
    return copy.deepcopy(_read_config(ref.source, ref.trust_code, stamp))


@functools.lru_cache(maxsize=16)
def _read_config(source: str, trust_code: bool, stamp: tuple[int, int] | None) -> Any:
    import transformers

    try:
        return transformers.AutoConfig.from_pretrained(
            source, local_files_only=Path(source).exists(), trust_remote_code=trust_code
        )
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"model.source: cannot load {source!r}: its config cannot be read: {error}") from None


def auto_class_name(ref: ModelRef, config: Any) -> str:
    """The Auto class the user named, else the one ``config.architectures`` implies."""
    return ref.options.get("auto_class") or infer_auto_class(config)


def meta_structure(auto: Any, config: Any, ref: ModelRef, dtype: Any = None) -> Any:
    """The module ``from_pretrained`` would build, on the meta device: its dtype as loading would
    give it (the one asked for, else the config's), so inputs are made in the same type, and its
    saved generation config (Whisper's generate reads its task and timestamp tokens there)."""
    import torch
    import transformers

    with torch.device("meta"):
        module = auto.from_config(config, dtype=dtype or config_dtype(config), trust_remote_code=ref.trust_code)
    try:
        module.generation_config = transformers.GenerationConfig.from_pretrained(
            ref.source, local_files_only=Path(ref.source).exists()
        )
    except OSError:
        pass  # none saved: from_config's default is what from_pretrained falls back to as well
    return module


def config_dtype(config: Any) -> Any:
    """The torch dtype the config's weights were saved in (float32 where it does not say)."""
    import torch

    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or torch.float32
    return getattr(torch, value) if isinstance(value, str) else value


def auto_class(name: str) -> Any:
    """The transformers Auto class of that name; any other name is refused as a spec error."""
    import transformers

    if not name.startswith("Auto") or not hasattr(transformers, name):
        raise SpecError(
            "model.options.auto_class", name, "a transformers Auto class such as 'AutoModel' or 'AutoModelForCausalLM'"
        )
    return getattr(transformers, name)
