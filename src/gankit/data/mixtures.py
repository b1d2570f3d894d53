"""Gaussian mixtures with exact densities: the problems on which GAN theory can be checked.

``ring8`` and ``grid25`` are the 2D benchmarks of the mode-collapse literature (PacGAN,
Lin et al. 2018; VEEGAN, Srivastava et al. 2017); ``mixture`` is any mixture of isotropic
Gaussians, and ``mixture1d`` its 1D case.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor


class GaussianMixture:
    """A mixture of axis-aligned Gaussians, sum_k w_k N(mu_k, diag(sigma_k^2)), with exact log_prob.

    Args:
        means: (K, d) component means.
        stds: (K,) isotropic or (K, d) per-axis standard deviations.
        weights: (K,) mixing weights; normalised to sum to one.
    """

    def __init__(self, means: Tensor, stds: Tensor, weights: Tensor) -> None:
        self.means = torch.as_tensor(means, dtype=torch.float64)
        if self.means.ndim != 2:
            raise ValueError(f"means must be (K, d), got shape {tuple(self.means.shape)}")
        stds = torch.as_tensor(stds, dtype=torch.float64)
        self.stds = stds[:, None].expand_as(self.means).clone() if stds.ndim == 1 else stds
        weights = torch.as_tensor(weights, dtype=torch.float64)
        self.weights = weights / weights.sum()

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def to(self, device: torch.device) -> GaussianMixture:
        """The same mixture with its parameters on ``device`` (sampled there, by its generator)."""
        moved = copy.copy(self)
        moved.means, moved.stds, moved.weights = (
            t.to(device) for t in (self.means, self.stds, self.weights)
        )
        return moved

    @property
    def num_modes(self) -> int:
        return self.means.shape[0]

    def mean(self) -> Tensor:
        """E[x] = sum_k w_k mu_k."""
        return self.weights @ self.means

    def std(self) -> Tensor:
        """Per-axis standard deviation: Var[x] = sum_k w_k (sigma_k^2 + mu_k^2) - E[x]^2."""
        second_moment = self.weights @ (self.stds**2 + self.means**2)
        return (second_moment - self.mean() ** 2).sqrt()

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw n float32 samples: a component k ~ Categorical(w), then x ~ N(mu_k, sigma_k^2)."""
        components = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(
            n, self.dim, generator=generator, dtype=torch.float64, device=self.means.device
        )
        return (self.means[components] + self.stds[components] * noise).float()

    def component_log_prob(self, x: Tensor) -> Tensor:
        """(n, K) log w_k + log N(x; mu_k, sigma_k^2), in float64."""
        x = torch.as_tensor(x, dtype=torch.float64)
        z = (x[:, None, :] - self.means) / self.stds
        log_normal = (
            -0.5 * (z**2).sum(-1) - self.stds.log().sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)
        )
        return self.weights.log() + log_normal

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log p(x) = logsumexp_k [log w_k + log N(x; mu_k, sigma_k^2)], in float64."""
        return torch.logsumexp(self.component_log_prob(x), dim=-1)


def ring(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    """``modes`` Gaussians at angles 2 pi i / modes on a circle (ring8: 8, radius 1, std 0.01)."""
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(means, torch.full((modes,), std), torch.ones(modes))


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """side^2 Gaussians on a square grid centred at 0 (``grid25``: {-4,-2,0,2,4}^2, std 0.05)."""
    axis = spacing * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)
    means = torch.cartesian_prod(axis, axis)
    return GaussianMixture(means, torch.full((side * side,), std), torch.ones(side * side))


def mixture1d(means: list[float], stds: list[float], weights: list[float]) -> GaussianMixture:
    """A 1D mixture sum_k w_k N(mu_k, sigma_k^2)."""
    return mixture(means, stds, weights, dim=1)


def mixture(
    means: list[float], stds: list[float], weights: list[float], dim: int
) -> GaussianMixture:
    """sum_k w_k N(mu_k, sigma_k^2 I) in ``dim`` dimensions, ``means`` the K centres in turn."""
    centres = torch.tensor(means, dtype=torch.float64).reshape(len(stds), dim)
    return GaussianMixture(centres, torch.tensor(stds), torch.tensor(weights))
