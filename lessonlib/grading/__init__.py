"""Student versions of the lessons, and grading of what students hand back."""

from lessonlib.grading.exercises import Exercise, find_exercises
from lessonlib.grading.grader import PartResult, grade_notebook
from lessonlib.grading.release import release, student_version

__all__ = ["Exercise", "PartResult", "find_exercises", "grade_notebook", "release",
           "student_version"]
