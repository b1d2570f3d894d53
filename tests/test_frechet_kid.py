"""The Frechet distance and KID against computations written here, independently of the code."""

import logging

import numpy as np
import pytest

from gankit.metrics import frechet as frechet_module
from gankit.metrics import frechet_distance, kernel_distance
from gankit.metrics.kid import unbiased_mmd2


def symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The PSD square root of a symmetric PSD matrix, by its eigendecomposition."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def reference_frechet(x: np.ndarray, y: np.ndarray) -> float:
    """||mu_x - mu_y||^2 + Tr S_x + Tr S_y - 2 Tr (S_x^1/2 S_y S_x^1/2)^1/2.

    (S_x S_y)^1/2 is similar to (S_x^1/2 S_y S_x^1/2)^1/2, a symmetric PSD matrix: its trace is
    the sum of the square roots of that matrix's eigenvalues (no non-symmetric sqrtm at all)."""
    mu_x, mu_y = x.mean(0), y.mean(0)
    s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = symmetric_sqrt(s_x)
    middle = np.linalg.eigvalsh(root @ s_y @ root)
    trace_covmean = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(s_x) + np.trace(s_y) - 2 * trace_covmean)


def with_moments(mean: np.ndarray, std: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n points whose sample mean is ``mean`` and sample covariance diag(std^2), exactly."""
    z = np.random.default_rng(seed).normal(size=(n, len(mean)))
    q, _ = np.linalg.qr(z - z.mean(0))  # orthonormal columns, each summing to 0
    return mean + np.sqrt(n - 1) * q * std


def test_frechet_distance_matches_the_symmetric_form_on_correlated_features() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 12)) @ rng.normal(size=(12, 12))  # correlated features
    y = rng.normal(0.4, 1.0, size=(400, 12)) @ rng.normal(size=(12, 12)) + 1.0
    expected = reference_frechet(x, y)
    assert expected > 1.0  # far from the cancellation near 0
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(y, x) == pytest.approx(expected, rel=1e-6)  # symmetric


@pytest.mark.parametrize("dim", [1, 6])
def test_frechet_distance_of_diagonal_gaussians_is_known_in_closed_form(dim: int) -> None:
    # Between N(mu1, diag(s1^2)) and N(mu2, diag(s2^2)): ||mu1 - mu2||^2 + sum (s1 - s2)^2.
    rng = np.random.default_rng(dim)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    s1, s2 = rng.uniform(0.2, 3.0, size=dim), rng.uniform(0.2, 3.0, size=dim)
    x, y = with_moments(mu1, s1, 300, seed=1), with_moments(mu2, s2, 200, seed=2)
    expected = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)


def test_a_large_imaginary_part_of_the_square_root_is_logged(monkeypatch, caplog) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    exact = frechet_distance(x, y)
    real_sqrtm = frechet_module.linalg.sqrtm

    def sqrtm_with(imaginary: float):
        # scipy's result, with an imaginary part of that size on the diagonal
        return lambda matrix: real_sqrtm(matrix) + 1j * imaginary * np.eye(len(matrix))

    with caplog.at_level(logging.WARNING, logger="gankit.metrics.frechet"):
        monkeypatch.setattr(frechet_module.linalg, "sqrtm", sqrtm_with(1e-5))
        assert frechet_distance(x, y) == pytest.approx(exact, rel=1e-12)  # rounding: quiet
        assert not caplog.records
        monkeypatch.setattr(frechet_module.linalg, "sqrtm", sqrtm_with(0.05))
        assert frechet_distance(x, y) == pytest.approx(exact, rel=1e-12)  # the real part
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    assert "imaginary part of up to 0.05" in record.getMessage()


def reference_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3: means over i != j within a set."""
    d = x.shape[1]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (np.einsum("ik,jk->ij", a, b) / d + 1) ** 3

    def within(a: np.ndarray) -> float:
        off_diagonal = ~np.eye(len(a), dtype=bool)
        return float(kernel(a, a)[off_diagonal].mean())

    return within(x) + within(y) - 2 * float(kernel(x, y).mean())


def test_unbiased_mmd2_matches_pair_by_pair_sums() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.5, 1.0, size=(25, 4))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (a @ b / 4 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(30) for j in range(30) if i != j) / (30 * 29)
    yy = sum(k(y[i], y[j]) for i in range(25) for j in range(25) if i != j) / (25 * 24)
    xy = sum(k(a, b) for a in x for b in y) / (30 * 25)
    assert unbiased_mmd2(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    assert reference_mmd2(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_on_one_subset_of_all_samples_is_their_unbiased_mmd2() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(120, 16)), rng.normal(0.3, 1.2, size=(120, 16))
    # a subset of all 120 is a permutation of them, and MMD^2 does not depend on the order
    mean, std = kernel_distance(x, y, subsets=1, subset_size=120)
    assert mean == pytest.approx(reference_mmd2(x, y), rel=1e-10)
    assert std == 0.0


def test_kid_averages_the_mmd2_of_its_seeded_subsets() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(90, 8)), rng.normal(0.2, 1.0, size=(60, 8))
    # kid.py's draws: per subset, `size` rows of x then of y, without replacement, from one
    # default_rng(seed); the size is capped by the smaller set (60 here)
    draws = np.random.default_rng(7)
    values = [
        reference_mmd2(
            x[draws.choice(90, 60, replace=False)], y[draws.choice(60, 60, replace=False)]
        )
        for _ in range(5)
    ]
    mean, std = kernel_distance(x, y, subsets=5, subset_size=1000, seed=7)
    assert mean == pytest.approx(np.mean(values), rel=1e-10)
    assert std == pytest.approx(np.std(values), rel=1e-10)
    assert std > 0


def test_kid_is_near_zero_for_one_distribution_and_not_for_two() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    shifted = rng.normal(0.5, 1.0, size=(1000, 8))
    same, same_std = kernel_distance(a, b, subsets=20, subset_size=500)
    different, _ = kernel_distance(a, shifted, subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-3
    assert different > 20 * abs(same)


def test_kid_needs_two_samples_in_each_set() -> None:
    with pytest.raises(ValueError, match="at least 2 samples"):
        kernel_distance(np.zeros((1, 3)), np.zeros((5, 3)))
