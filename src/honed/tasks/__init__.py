"""Tasks: data, how to run a model on it, and quality metrics with their direction and unit."""

from honed.tasks.base import TASKS, QualityResult, Task, agreement, as_tensor, evaluate_quality
from honed.tasks.classification import ImageClassificationTask
from honed.tasks.choice import MultipleChoiceTask
from honed.tasks.embedding import TextEmbeddingTask
from honed.tasks.segmentation import SegmentationTask

__all__ = ["TASKS", "ImageClassificationTask", "MultipleChoiceTask", "TextEmbeddingTask", "QualityResult", "SegmentationTask", "Task", "agreement", "as_tensor", "evaluate_quality"]
