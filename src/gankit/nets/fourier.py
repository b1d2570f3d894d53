"""D on Fourier features of its input: a discriminator that can resolve fine detail in a few
dimensions, for refining G's samples of vector data (``gankit refine-d --model fourier``).

An MLP on raw coordinates learns coarse shapes first and fine detail slowly, if at all (the
spectral bias of neural networks, Rahaman et al. 2019). The density ratio that refinement
needs, p_data / p_g = D* / (1 - D*), can change within a mode's width: on ring8 (modes 0.01
wide) a GAN's G piles its samples at the modes' centres, so D* is below 1/2 at a centre, above
it 0.02 away and near 0 at 0.05. An MLP on the coordinates does not draw that; one on
sin(pi 2^k x_i) and cos(pi 2^k x_i), k < levels, beside x (the positional encoding of NeRF,
Mildenhall et al. 2020; Tancik et al. 2020), does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.functional import one_hot

from gankit.nets.mlp import mlp


class FourierDiscriminator(nn.Module):
    """D(x[, y]) as a logit: an MLP (leaky ReLU) on [x, sin(pi 2^k x), cos(pi 2^k x)] for
    k < ``levels``, and the class one-hot when ``num_classes`` > 0; shape (n,).

    ``x`` is in network units (standardised), so the finest wavelength, 2^(2 - levels), is
    relative to the data's spread.
    """

    def __init__(
        self, data_dim: int, hidden: Sequence[int], levels: int, num_classes: int = 0
    ) -> None:
        super().__init__()
        self.levels, self.hidden, self.num_classes = levels, list(hidden), num_classes
        frequencies = math.pi * 2.0 ** torch.arange(levels, dtype=torch.float32)
        self.register_buffer("frequencies", frequencies, persistent=False)
        self.net = mlp(data_dim * (1 + 2 * levels) + num_classes, hidden, 1, "leaky_relu")

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        angles = (x[:, :, None] * self.frequencies).flatten(1)  # (n, d * levels)
        features = [x, angles.sin(), angles.cos()]
        if self.num_classes:
            features.append(one_hot(labels, self.num_classes).to(x.dtype))
        return self.net(torch.cat(features, dim=1)).squeeze(-1)
