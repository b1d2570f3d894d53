"""Networks, built from the config."""

from __future__ import annotations

from torch import nn

from gankit.config import Config
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.nets.pack import PackedDiscriminator


def build_generator(config: Config, data_dim: int) -> nn.Module:
    """G for the configured noise and network sizes."""
    net = config.generator
    return MLPGenerator(config.noise.dim, data_dim, net.hidden, net.activation, net.batch_norm)


def build_discriminator(config: Config, data_dim: int) -> nn.Module:
    """D, returning logits; packed (PacGAN) when ``config.pack`` > 1."""
    net = config.discriminator
    discriminator = MLPDiscriminator(
        data_dim * config.pack, net.hidden, net.activation, net.batch_norm
    )
    return PackedDiscriminator(discriminator, config.pack) if config.pack > 1 else discriminator


__all__ = [
    "MLPDiscriminator",
    "MLPGenerator",
    "PackedDiscriminator",
    "build_discriminator",
    "build_generator",
]
