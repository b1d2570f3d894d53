"""Kernel Inception Distance (Binkowski et al. 2018): an unbiased MMD^2 between feature sets.

The kernel is the cubic polynomial k(a, b) = (a.b / d + 1)^3. MMD^2 is estimated without
bias on random subsets of equal size, and the mean and standard deviation over the subsets
are reported (as torch-fidelity and clean-fid do); unlike the Frechet distance, its expected
value does not depend on the number of samples.
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """k(a_i, b_j) = (a_i . b_j / d + 1)^3 for every pair of rows."""
    return (a @ b.T / a.shape[1] + 1) ** 3


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y), with i != j in the first two means."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2 * k_xy.mean())


def kernel_distance(
    x: np.ndarray,
    y: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over ``subsets`` random pairs of equal-size subsets."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples in each set; got {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)
    values = [
        unbiased_mmd2(
            x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)]
        )
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
