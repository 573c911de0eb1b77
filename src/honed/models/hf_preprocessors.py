"""A transformers model's pre-processing, loaded beside it: the tokenizer (text), the feature
extractor (audio: waveform -> input_features) and the image processor (images -> pixel_values,
with the size and normalisation the model was trained with). Each is None where the files have
none: the model scope on synthetic tensors still works, and a task says what is missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Preprocessors:
    tokenizer: Any | None = None
    feature_extractor: Any | None = None
    image_processor: Any | None = None


def load_preprocessors(source: str, main_input: str | None, local: bool, trust_code: bool) -> Preprocessors:
    import transformers

    kwargs = {"local_files_only": local, "trust_remote_code": trust_code}
    found = Preprocessors(tokenizer=_optional(transformers.AutoTokenizer, source, kwargs))
    if main_input == "input_features":
        found.feature_extractor = _optional(transformers.AutoFeatureExtractor, source, kwargs)
    elif main_input == "pixel_values":
        found.image_processor = _optional(transformers.AutoImageProcessor, source, kwargs)
    return found


def _optional(auto: Any, source: str, kwargs: dict[str, Any]) -> Any | None:
    try:
        return auto.from_pretrained(source, **kwargs)
    except (OSError, ValueError, TypeError):
        return None
