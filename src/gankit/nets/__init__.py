"""Networks, built from the config."""

from __future__ import annotations

from torch import nn

from gankit.config import Config
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator


def build_generator(config: Config, data_dim: int) -> nn.Module:
    """G for the configured noise and network sizes."""
    net = config.generator
    return MLPGenerator(config.noise.dim, data_dim, net.hidden, net.activation, net.batch_norm)


def build_discriminator(config: Config, data_dim: int) -> nn.Module:
    """D, returning logits."""
    net = config.discriminator
    return MLPDiscriminator(data_dim, net.hidden, net.activation, net.batch_norm)


__all__ = ["MLPDiscriminator", "MLPGenerator", "build_discriminator", "build_generator"]
