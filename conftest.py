"""Test configuration for the whole course: `pytest` runs the library tests and the lessons.

Fast mode is set here, before any notebook kernel starts, so the kernels nbval launches inherit
it and every lesson runs on its small budget. Set LESSONLIB_FAST=0 to test the full lessons.
"""

import os

os.environ.setdefault("LESSONLIB_FAST", "1")
# TensorFlow's start-up messages about missing CUDA drivers and CPU instructions would bury
# the lessons' own output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
