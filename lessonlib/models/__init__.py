"""The models the lessons train."""

from lessonlib.models.autoencoders import Autoencoder, SparseAutoencoder
from lessonlib.models.deconvnet import PRESETS, DeconvNet, FCNBaseline, decoder_stages

__all__ = ["PRESETS", "Autoencoder", "DeconvNet", "FCNBaseline", "SparseAutoencoder",
           "decoder_stages"]
