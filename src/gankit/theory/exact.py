"""Exact quantities of the optimal discriminator in 1D, in log space and float64.

For densities p_data and p_g with log-densities a = log p_data(x) and b = log p_g(x):

    D*(x)            = p_data / (p_data + p_g) = sigmoid(a - b)
    log D*(x)        = -softplus(b - a)
    log(1 - D*(x))   = -softplus(a - b)
    V(D*, G)         = E_pdata[log D*] + E_pg[log(1 - D*)]
    JS(p_data||p_g)  = 1/2 KL(p_data || m) + 1/2 KL(p_g || m),  m = (p_data + p_g)/2,
    log m            = logaddexp(a, b) - log 2

so nothing is ever log(0) or 0/0, even where both densities underflow. Integrals are taken
with Simpson's rule on a fine grid wide enough that the densities are negligible at its ends.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.integrate import simpson
from torch import Tensor
from torch.nn.functional import softplus

from gankit.data.mixtures import GaussianMixture

GRID_POINTS = 20_001
TAIL_STDS = 12.0
"""The grid reaches 12 standard deviations past every component: there N(x) < 1e-31 N(mu)."""

SUPPORT_FRACTION = 1e-3
"""Where errors are measured: the grid points at which (p_data + p_g)/2 > 1e-3 of its maximum."""


def integration_grid(*densities: GaussianMixture, points: int = GRID_POINTS) -> Tensor:
    """(points, 1) float64 grid from 12 standard deviations below to 12 above every component."""
    low = min((d.means[:, 0] - TAIL_STDS * d.stds[:, 0]).min().item() for d in densities)
    high = max((d.means[:, 0] + TAIL_STDS * d.stds[:, 0]).max().item() for d in densities)
    return torch.linspace(low, high, points, dtype=torch.float64)[:, None]


def integrate(values: Tensor, grid: Tensor) -> float:
    """Simpson's rule of values(x) over the (n, 1) grid."""
    return float(simpson(values.double().numpy(), x=grid[:, 0].double().numpy()))


def log_optimal_discriminator(log_p_data: Tensor, log_p_g: Tensor) -> tuple[Tensor, Tensor]:
    """(log D*, log(1 - D*)) with D* = p_data / (p_data + p_g), from the two log-densities."""
    log_d = -softplus(log_p_g - log_p_data)  # log D* = -log(1 + p_g/p_data)
    log_one_minus_d = -softplus(log_p_data - log_p_g)  # log(1 - D*) = -log(1 + p_data/p_g)
    return log_d, log_one_minus_d


def optimal_discriminator(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """D*(x) = sigmoid(log p_data - log p_g)."""
    return torch.sigmoid(log_p_data - log_p_g)


def value_at_optimum(log_p_data: Tensor, log_p_g: Tensor, grid: Tensor) -> float:
    """V(D*, G) = int p_data log D* + p_g log(1 - D*) dx by quadrature."""
    log_d, log_one_minus_d = log_optimal_discriminator(log_p_data, log_p_g)
    return integrate(log_p_data.exp() * log_d + log_p_g.exp() * log_one_minus_d, grid)


def kl_divergence(log_p: Tensor, log_q: Tensor, grid: Tensor) -> float:
    """KL(p || q) = int p (log p - log q) dx by quadrature."""
    return integrate(log_p.exp() * (log_p - log_q), grid)


def jensen_shannon(log_p: Tensor, log_q: Tensor, grid: Tensor) -> float:
    """JS(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m) with log m = logaddexp(log p, log q) - log 2."""
    log_m = torch.logaddexp(log_p, log_q) - math.log(2)
    return 0.5 * kl_divergence(log_p, log_m, grid) + 0.5 * kl_divergence(log_q, log_m, grid)


def support_mask(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """Grid points where (p_data + p_g)/2 exceeds SUPPORT_FRACTION of its maximum."""
    log_m = torch.logaddexp(log_p_data, log_p_g)
    return log_m > log_m.max() + math.log(SUPPORT_FRACTION)


def minus_log_4_plus_2_js(js: float) -> float:
    """The right-hand side of V(D*, G) = -log 4 + 2 JS(p_data || p_g)."""
    return -math.log(4) + 2 * js


def to_numpy(x: Tensor) -> np.ndarray:
    """A float64 numpy copy, for plotting."""
    return x.detach().double().cpu().numpy()
