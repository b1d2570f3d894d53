"""DCGAN-style convolutional G and D (Radford et al. 2016) for square images of 8 to 64 px.

G projects z to a small map (4x4 for 32 px, 7x7 for 28 px: :func:`base_side`) and doubles
the resolution with strided transposed convolutions (batch norm and ReLU between them, tanh
at the end); D mirrors it with strided convolutions and leaky ReLU, without batch norm, so
that R1 and gradient penalties see one image at a time. ``width`` is the channel count at
full resolution, doubling per halving (up to 8x).
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from gankit.nets.layers import (
    ClassBatchNorm2d,
    ProjectionHead,
    base_side,
    halvings,
    image_sizes,
    maybe_spectral_norm,
)

SIZES = image_sizes(8, 64)


def pyramid_channels(width: int, levels: int) -> list[int]:
    """Channels from full resolution (index 0) down to the smallest map (index ``levels``)."""
    return [width * min(2**level, 8) for level in range(levels + 1)]


class DCGANGenerator(nn.Module):
    """G(z, y): noise (and a class, with conditional batch norm) to a (C, R, R) image in [-1, 1]."""

    def __init__(
        self, noise_dim: int, shape: tuple[int, int, int], width: int = 64, num_classes: int = 0
    ) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.side = base_side(shape[1])
        channels = pyramid_channels(width, halvings(shape[1]))[::-1]  # smallest map first
        self.project = nn.Linear(noise_dim, channels[0] * self.side**2)
        self.norms = nn.ModuleList(ClassBatchNorm2d(c, num_classes) for c in channels)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
            for c_in, c_out in itertools.pairwise(channels)
        )
        self.to_image = nn.Conv2d(channels[-1], shape[0], 3, padding=1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        x = self.project(z).view(len(z), -1, self.side, self.side)
        for norm, up in zip(self.norms, self.ups, strict=False):
            x = up(torch.relu(norm(x, labels)))
        return torch.tanh(self.to_image(torch.relu(self.norms[-1](x, labels))))


class DCGANDiscriminator(nn.Module):
    """D(x, y) as a logit; with classes, a projection discriminator; optionally spectral-normed."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        width: int = 64,
        num_classes: int = 0,
        spectral: bool = False,
    ) -> None:
        super().__init__()
        channels = pyramid_channels(width, halvings(shape[1]))
        layers: list[nn.Module] = [
            maybe_spectral_norm(nn.Conv2d(shape[0], channels[0], 3, padding=1), spectral),
            nn.LeakyReLU(0.2),
        ]
        for c_in, c_out in itertools.pairwise(channels):
            conv = nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)
            layers += [maybe_spectral_norm(conv, spectral), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = ProjectionHead(channels[-1] * base_side(shape[1]) ** 2, num_classes, spectral)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.head(self.features(x).flatten(1), labels)
