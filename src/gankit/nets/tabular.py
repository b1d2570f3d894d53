"""G and D for tables (CTGAN, Xu et al. 2019): MLPs whose input carries the conditional vector
and whose G output is shaped by the table transformer's spans.

A table row reaches the networks encoded (:mod:`gankit.data.table_transformer`): for each
continuous column a scalar in (-1, 1) and a one-hot of its mixture mode, for each categorical
column a one-hot of its category. G ends in one head per span: tanh for a scalar, and for a
one-hot a Gumbel-softmax, a differentiable draw of one category (Jang et al. 2017), so that D
sees near-one-hot rows from G as it does from the data. A conditional G and D take the class c
(a (column, category) pair) as the one-hot vector of CTGAN's training-by-sampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.functional import gumbel_softmax, one_hot

GUMBEL_TEMPERATURE = 0.2  # CTGAN's tau


class TabularGenerator(nn.Module):
    """G(z, c): residual-free MLP (linear, batch norm, ReLU) with one output head per span.

    ``spans``: (size, activation) of each span in output order, activation "tanh" or "softmax".
    ``forward`` returns the row; :meth:`logits` the raw outputs, for the cross-entropy that makes
    G honour its condition.
    """

    def __init__(
        self, noise_dim: int, spans: Sequence[tuple[int, str]], hidden: Sequence[int], classes: int
    ) -> None:
        super().__init__()
        self.classes = classes
        self.spans = [(int(size), activation) for size, activation in spans]
        layers: list[nn.Module] = []
        width = noise_dim + classes
        for units in hidden:
            layers += [nn.Linear(width, units), nn.BatchNorm1d(units), nn.ReLU()]
            width = units
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, sum(size for size, _ in self.spans))

    def logits(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.classes:
            z = torch.cat([z, one_hot(labels, self.classes).to(z.dtype)], dim=1)
        return self.out(self.body(z))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        raw = self.logits(z, labels)
        parts, start = [], 0
        for size, activation in self.spans:
            chunk = raw[:, start : start + size]
            if activation == "tanh":
                parts.append(torch.tanh(chunk))
            elif self.training:
                parts.append(gumbel_softmax(chunk, tau=GUMBEL_TEMPERATURE))
            else:  # sampling: a category drawn from softmax(chunk) (Gumbel-max), exactly one-hot
                parts.append(gumbel_softmax(chunk, tau=GUMBEL_TEMPERATURE, hard=True))
            start += size
        return torch.cat(parts, dim=1)


class TabularDiscriminator(nn.Module):
    """D(x, c) as a logit: an MLP (linear, leaky ReLU, dropout 0.5 as in CTGAN) on the row and
    the conditional vector, ``pack`` rows at a time (PacGAN, as CTGAN packs 10)."""

    def __init__(self, width: int, hidden: Sequence[int], classes: int, pack: int = 1) -> None:
        super().__init__()
        self.classes, self.pack = classes, pack
        layers: list[nn.Module] = []
        size = (width + classes) * pack
        for units in hidden:
            layers += [nn.Linear(size, units), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            size = units
        layers.append(nn.Linear(size, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.classes:
            x = torch.cat([x, one_hot(labels, self.classes).to(x.dtype)], dim=1)
        return self.net(x.reshape(len(x) // self.pack, -1)).squeeze(1)
