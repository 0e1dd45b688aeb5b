"""`python -m lessonlib release | check | grade` (see `lessonlib.grading.cli`)."""

import sys

from lessonlib.grading.cli import main

if __name__ == "__main__":  # grading's worker processes import this module again
    sys.exit(main())
