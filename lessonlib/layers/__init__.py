"""Keras layers the course needs and Keras does not have."""

from lessonlib.layers.kl_sparsity import KLSparsity
from lessonlib.layers.max_pooling_with_switches import MaxPoolingWithSwitches
from lessonlib.layers.max_unpooling2d import MaxUnpooling2D

__all__ = ["KLSparsity", "MaxPoolingWithSwitches", "MaxUnpooling2D"]
