"""Training helpers shared by the lessons: callbacks, and the GAN's step for each backend.

`gan_tensorflow`, `gan_jax` and `gan_torch` hold `GAN.train_step` for one backend each;
`lessonlib.models.GAN` imports the current backend's module when it first trains.
"""

from lessonlib.training.callbacks import (
    EpochProgress,
    FrechetDistance,
    SampleGrid,
    SparsityTrace,
    StopOnDivergence,
    TrainingFailed,
)

__all__ = [
    "EpochProgress",
    "FrechetDistance",
    "SampleGrid",
    "SparsityTrace",
    "StopOnDivergence",
    "TrainingFailed",
]
