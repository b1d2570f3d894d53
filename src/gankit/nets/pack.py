"""Packing (PacGAN, Lin et al. 2018): D judges m samples at once.

D sees m independent samples concatenated, all real or all fake, so a generator that
repeats itself is easier to catch: the packed distribution p^m punishes mode collapse
more strongly than p. The objective is unchanged; it is applied to packed samples.

A class-conditional D on vectors sees each sample with its class, one-hot, beside it:
D(x, y) = D'([x, onehot(y)]), packed the same way (m may be 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PackedDiscriminator(nn.Module):
    """Wraps a D on (n/m, m*(d+K)) inputs so that it takes (n, d) samples, and their classes
    when ``num_classes`` K > 0; returns n/m logits."""

    def __init__(self, discriminator: nn.Module, pack: int, num_classes: int = 0) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.pack = pack
        self.num_classes = num_classes

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.num_classes:
            x = torch.cat([x, F.one_hot(labels, self.num_classes).to(x.dtype)], dim=1)
        return self.discriminator(x.reshape(x.shape[0] // self.pack, -1))
