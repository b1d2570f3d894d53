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
SAMPLE_BLOCK = 4096  # rows G samples at a time: its activations stay in the CPU's cache


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
        if not self.training:
            return self._sample(z, labels)
        raw = self.logits(z, labels)
        parts, start = [], 0
        for size, activation in self.spans:
            chunk = raw[:, start : start + size]
            parts.append(
                torch.tanh(chunk)
                if activation == "tanh"
                else gumbel_softmax(chunk, tau=GUMBEL_TEMPERATURE)
            )
            start += size
        return torch.cat(parts, dim=1)

    def _sample(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """Rows as ``forward`` makes them in eval mode, by the shortest path: batch norm folded
        into the linear layer before it, and each category drawn by the Gumbel-max trick,
        argmax(logits + g), g = -log E, E ~ Exp(1): the draws of ``gumbel_softmax(hard=True)``,
        in its order, without its softmax (the argmax of (logits + g) / tau is that of
        logits + g). Rows go through in blocks small enough to stay in the CPU's cache."""
        layers = self._folded_layers()
        minus_gumbel = [
            _minus_gumbel(len(z), size, z)
            for size, activation in self.spans
            if activation == "softmax"
        ]
        rows = torch.zeros(len(z), self.out.out_features, dtype=z.dtype, device=z.device)
        for first in range(0, len(z), SAMPLE_BLOCK):
            block = slice(first, first + SAMPLE_BLOCK)
            h = z[block]
            for index, (weight, bias) in enumerate(layers):
                if index == 0 and self.classes:  # W [z; onehot(c)] = W_z z + W_c onehot(c)
                    onehot = torch.zeros(len(h), self.classes, dtype=h.dtype, device=h.device)
                    onehot.scatter_(1, labels[block, None], 1.0)
                    noise_dim = h.shape[1]
                    h = torch.addmm(bias, h, weight[:, :noise_dim].T)
                    h.addmm_(onehot, weight[:, noise_dim:].T)
                else:
                    h = torch.addmm(bias, h, weight.T)
                h.relu_()
            raw, out, draws, start = self.out(h), rows[block], iter(minus_gumbel), 0
            for size, activation in self.spans:
                chunk, target = raw[:, start : start + size], out[:, start : start + size]
                if activation == "tanh":
                    torch.tanh(chunk, out=target)
                else:
                    pick = (chunk - next(draws)[block]).argmax(dim=1, keepdim=True)
                    target.scatter_(1, pick, 1.0)
                start += size
        return rows

    def _folded_layers(self) -> list[tuple[Tensor, Tensor]]:
        """Each hidden layer's weight and bias with its batch norm (eval mode) folded in:
        BN(W h + b) = (W s) h + (b - mu) s + beta, s = gamma / sqrt(var + eps)."""
        layers = []
        for linear, norm, _ in zip(*[iter(self.body)] * 3, strict=True):
            scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
            bias = (linear.bias - norm.running_mean) * scale + norm.bias
            layers.append((linear.weight * scale[:, None], bias))
        return layers


def _minus_gumbel(rows: int, size: int, like: Tensor) -> Tensor:
    """-g for Gumbel noise g = -log E, E ~ Exp(1), drawn as ``exponential_`` draws E on a CPU,
    -log(1 - U) of a float64 uniform U, bit for bit (so a seed gives ``gumbel_softmax``'s own
    draws), but one vectorised pass at a time: 1.5 times as fast."""
    uniform = torch.empty(rows, size, dtype=torch.float64, device=like.device).uniform_()
    return uniform.neg_().log1p_().neg_().to(like.dtype).log_()


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
