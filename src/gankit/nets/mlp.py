"""Multilayer perceptrons for G: R^noise -> R^d and D: R^d -> R (a logit).

A class-conditional G takes its class one-hot beside the noise, G(z, y) = G'([z, onehot(y)]);
D takes it beside the sample (:class:`~gankit.nets.pack.PackedDiscriminator`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
}


def mlp(
    in_features: int,
    hidden: Sequence[int],
    out_features: int,
    activation: str,
    batch_norm: bool = False,
) -> nn.Sequential:
    """Linear layers of the given widths, each hidden one followed by [BatchNorm] and activation."""
    layers: list[nn.Module] = []
    width = in_features
    for next_width in hidden:
        layers.append(nn.Linear(width, next_width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(next_width))
        layers.append(ACTIVATIONS[activation]())
        width = next_width
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """G(z), or G(z, y) with ``num_classes`` > 0: noise of ``noise_dim`` features to a sample
    of ``data_dim`` features."""

    def __init__(
        self,
        noise_dim: int,
        data_dim: int,
        hidden: Sequence[int],
        activation: str = "relu",
        batch_norm: bool = False,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.num_classes = num_classes
        self.net = mlp(noise_dim + num_classes, hidden, data_dim, activation, batch_norm)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.num_classes:
            z = torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], dim=1)
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D(x) as a logit l(x), so that D(x) = sigmoid(l(x)); shape (n,)."""

    def __init__(
        self,
        data_dim: int,
        hidden: Sequence[int],
        activation: str = "leaky_relu",
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.net = mlp(data_dim, hidden, 1, activation, batch_norm)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)

    @torch.no_grad()
    def probability(self, x: Tensor) -> Tensor:
        """D(x) in [0, 1]."""
        return torch.sigmoid(self(x))
