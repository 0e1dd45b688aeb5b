"""Training helpers shared by the lessons: callbacks."""

from lessonlib.training.callbacks import EpochProgress

__all__ = ["EpochProgress"]
