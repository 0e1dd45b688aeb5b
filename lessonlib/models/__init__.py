"""The models the lessons train."""

from lessonlib.models.autoencoders import Autoencoder, SparseAutoencoder
from lessonlib.models.deconvnet import PRESETS, DeconvNet, FCNBaseline, decoder_stages
from lessonlib.models.digit_classifier import DigitFeatures, filter_bank_classifier
from lessonlib.models.gan import (
    GAN,
    dcgan_discriminator,
    dcgan_generator,
    mlp_discriminator,
    mlp_generator,
)
from lessonlib.models.vae import SemiSupervisedVAE, VariationalAutoencoder

__all__ = [
    "GAN",
    "PRESETS",
    "Autoencoder",
    "DeconvNet",
    "DigitFeatures",
    "FCNBaseline",
    "SemiSupervisedVAE",
    "SparseAutoencoder",
    "VariationalAutoencoder",
    "dcgan_discriminator",
    "dcgan_generator",
    "decoder_stages",
    "filter_bank_classifier",
    "mlp_discriminator",
    "mlp_generator",
]
