"""Tasks: data, how to run a model on it, and quality metrics with their direction and unit."""

from honed.records.record import QualityResult
from honed.tasks.base import TASKS, Task, agreement, agreement_of, as_tensor, build_task, evaluate_quality
from honed.tasks.choice import MultipleChoiceTask
from honed.tasks.classification import ImageClassificationTask
from honed.tasks.depth import DepthEstimationTask
from honed.tasks.embedding import TextEmbeddingTask
from honed.tasks.fidelity import AgreementTask
from honed.tasks.language import LanguageModelingTask
from honed.tasks.segmentation import SegmentationTask
from honed.tasks.speech import SpeechRecognitionTask
from honed.tasks.translation import TranslationTask

__all__ = [
    "TASKS",
    "AgreementTask",
    "DepthEstimationTask",
    "ImageClassificationTask",
    "MultipleChoiceTask",
    "TextEmbeddingTask",
    "LanguageModelingTask",
    "QualityResult",
    "SegmentationTask",
    "SpeechRecognitionTask",
    "Task",
    "TranslationTask",
    "agreement",
    "agreement_of",
    "as_tensor",
    "build_task",
    "evaluate_quality",
]
