"""Student versions of the lessons, and grading of what students hand back: each submission
in a sandbox (`sandbox`), judged by a kernel that never ran it (`grader`, `kernel`), from
values sent as data (`exchange`)."""

from lessonlib.grading.exercises import Exercise, find_exercises
from lessonlib.grading.grader import GradingError, Options, PartResult, grade_notebook
from lessonlib.grading.release import release, student_version
from lessonlib.grading.sandbox import Limits

__all__ = [
    "Exercise",
    "GradingError",
    "Limits",
    "Options",
    "PartResult",
    "find_exercises",
    "grade_notebook",
    "release",
    "student_version",
]
