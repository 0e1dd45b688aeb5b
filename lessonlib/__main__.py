"""`python -m lessonlib release | check | grade` (see `lessonlib.grading.cli`)."""

import sys

from lessonlib.grading.cli import main

sys.exit(main())
