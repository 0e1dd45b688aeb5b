"""The models the lessons train."""

from lessonlib.models.deconvnet import PRESETS, DeconvNet, FCNBaseline, decoder_stages

__all__ = ["PRESETS", "DeconvNet", "FCNBaseline", "decoder_stages"]
