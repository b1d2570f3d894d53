"""What the lab measures of the game at each frame, against the exact p_data.

p_g has no formula, so it is estimated by a Gaussian kernel density estimate of G's samples,
with one kernel width h chosen among WIDTHS candidates by leave-one-out likelihood: the estimate
follows G whether it spreads out smoothly or collapses onto a few narrow modes (Scott's rule,
made for one bump, would spread ring8's modes of std 0.01 over the whole ring; a width fixed
for ring8 would make a smooth p_g spiky). Then

    D*(x)             = p_data / (p_data + p_g) = sigmoid(log p_data - log p_g)
    V(D*, G)          = E_pdata[log D*] + E_pg[log(1 - D*)] = -log 4 + 2 JS(p_data || p_g)
    V(D, G)           = E_pdata[log D] + E_pg[log(1 - D)], log D = -softplus(-l) from D's logit l

so JS = (V(D*, G) + log 4) / 2 is a Monte Carlo mean over real samples and over samples of the
estimate p_g itself. The kernels blur G's samples, so even a perfect G scores a small JS (the
floor, :func:`js_floor`, which the page shows beside it).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.functional import softplus

from gankit.data.mixtures import GaussianMixture
from gankit.theory.exact import log_optimal_discriminator

WIDTHS = 16  # candidate kernel widths, log-spaced from 1/300 of G's spread to its spread
MONTE_CARLO_SEED = 12345  # the same draws of p_g's estimate in every frame: a steady curve


def kernel_width(samples: Tensor, min_width: float, near: float | None = None) -> float:
    """The kernel std h of largest leave-one-out log-likelihood of ``samples`` (n, d),

    LOO(h) = mean_i log (1/(n-1)) sum_{j != i} N(s_i; s_j, h^2 I)
           = mean_i logsumexp_{j != i} [-|s_i - s_j|^2 / (2 h^2)] - d log h + const,

    over WIDTHS candidates log-spaced up to G's spread, at least ``min_width`` (a G collapsed to
    a point still has a finite density); or, given the last frame's width ``near``, over the five
    neighbouring steps of that scale around it (G moves little between two frames).
    """
    points = samples.double()
    squared = torch.cdist(points, points).square().float()
    squared.fill_diagonal_(float("inf"))
    spread = max(float(points.std(0).max()), min_width)
    low = max(min_width, spread / 300)
    ratio = (spread / low) ** (1 / (WIDTHS - 1))
    if near is None:
        widths = [low * ratio**k for k in range(WIDTHS)]
    else:
        widths = sorted({max(min_width, near * ratio**k) for k in range(-2, 3)})
    scores = [
        float(torch.logsumexp(-squared / (2 * h * h), dim=1).mean()) - points.shape[1] * math.log(h)
        for h in widths
    ]
    return widths[max(range(len(widths)), key=scores.__getitem__)]


def kde_log_density(samples: Tensor, x: Tensor, width: float) -> Tensor:
    """log p_g(x) of the KDE of ``samples`` (n, d) with kernel std ``width``, at x (m, d):

    log p(x) = logsumexp_i [-|x - s_i|^2 / (2 h^2)] - log n - d log(h sqrt(2 pi)).
    """
    # float32 for the n x m kernel values: twice as fast, and log p_g is for pictures and for
    # estimates that the kernel's own bias dwarfs.
    a, b = (x.double() / width).float(), (samples.double() / width).float()
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one matrix product rather than an (m, n, d) tensor
    distances = (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2 * a @ b.T).clamp_min(0)
    normaliser = math.log(len(samples)) + x.shape[1] * math.log(width * math.sqrt(2 * math.pi))
    return torch.logsumexp(-0.5 * distances, dim=1).double() - normaliser


def sample_kde(samples: Tensor, width: float, n: int) -> Tensor:
    """n draws of the KDE: a sample s_i at random, plus N(0, h^2 I)."""
    rng = torch.Generator().manual_seed(MONTE_CARLO_SEED)
    chosen = torch.randint(len(samples), (n,), generator=rng)
    noise = torch.randn(n, samples.shape[1], generator=rng, dtype=torch.float64)
    return samples.double()[chosen] + width * noise


def js_estimate(density: GaussianMixture, real: Tensor, kernel: Tensor, width: float) -> float:
    """JS(p_data || p_g) = (V(D*, G) + log 4) / 2 by Monte Carlo: ``real`` drawn from p_data, and
    as many draws of p_g, the KDE of ``kernel`` with kernel std ``width``."""
    fake = sample_kde(kernel, width, len(real))
    log_d, _ = log_optimal_discriminator(
        density.log_prob(real), kde_log_density(kernel, real, width)
    )
    _, log_one_minus_d = log_optimal_discriminator(
        density.log_prob(fake), kde_log_density(kernel, fake, width)
    )
    return 0.5 * float(log_d.mean() + log_one_minus_d.mean()) + math.log(2)


def js_floor(density: GaussianMixture, n: int, min_width: float, seed: int = 0) -> float:
    """The JS estimate for a perfect G: the kernel's n samples drawn from p_data itself."""
    rng = torch.Generator().manual_seed(seed)
    real, kernel = density.sample(n, rng), density.sample(n, rng)
    return js_estimate(density, real, kernel, kernel_width(kernel, min_width))


def value_estimate(real_logits: Tensor, fake_logits: Tensor) -> float:
    """V(D, G) = E_pdata[log D(x)] + E_pg[log(1 - D(G(z)))] from D's logits."""
    log_d_real = -softplus(-real_logits.double())  # log D(x)
    log_one_minus_d_fake = -softplus(fake_logits.double())  # log(1 - D(G(z)))
    return float(log_d_real.mean() + log_one_minus_d_fake.mean())
