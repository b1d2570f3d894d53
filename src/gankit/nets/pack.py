"""Packing (PacGAN, Lin et al. 2018): D judges m samples at once.

D sees m independent samples concatenated, all real or all fake, so a generator that
repeats itself is easier to catch: the packed distribution p^m punishes mode collapse
more strongly than p. The objective is unchanged; it is applied to packed samples.
"""

from __future__ import annotations

from torch import Tensor, nn


class PackedDiscriminator(nn.Module):
    """Wraps a D on (n/m, m*d) inputs so that it takes (n, d) samples; returns n/m logits."""

    def __init__(self, discriminator: nn.Module, pack: int) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.pack = pack

    def forward(self, x: Tensor) -> Tensor:
        return self.discriminator(x.reshape(x.shape[0] // self.pack, -1))
