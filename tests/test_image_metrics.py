"""Feature-space metrics: Frechet distance, KID, precision/recall/density/coverage."""

import importlib

import numpy as np
import pytest
import torch
from scipy import linalg

from gankit.metrics import frechet_distance, kernel_distance, prdc
from gankit.metrics.kid import unbiased_mmd2

prdc_module = importlib.import_module("gankit.metrics.prdc")


def test_frechet_distance_equals_a_direct_scipy_computation() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16))
    y = rng.normal(0.3, 1.5, size=(300, 16))
    mu_x, mu_y = x.mean(0), y.mean(0)
    s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    direct = ((mu_x - mu_y) ** 2).sum() + np.trace(s_x + s_y - 2 * linalg.sqrtm(s_x @ s_y).real)
    # Tr (S_x S_y)^(1/2) is also the sum of the square roots of S_x S_y's eigenvalues
    eigen = np.sqrt(np.clip(linalg.eigvals(s_x @ s_y).real, 0, None)).sum()
    by_eigenvalues = ((mu_x - mu_y) ** 2).sum() + np.trace(s_x) + np.trace(s_y) - 2 * eigen
    assert frechet_distance(x, y) == pytest.approx(direct, rel=1e-9)
    assert frechet_distance(x, y) == pytest.approx(by_eigenvalues, rel=1e-6)


def test_kid_is_the_unbiased_mmd_with_the_cubic_kernel() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.normal(0.5, 1.0, size=(25, 4))

    def k(a, b):
        return (a @ b / 4 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(30) for j in range(30) if i != j) / (30 * 29)
    yy = sum(k(y[i], y[j]) for i in range(25) for j in range(25) if i != j) / (25 * 24)
    xy = sum(k(a, b) for a in x for b in y) / (30 * 25)
    assert unbiased_mmd2(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    mean, std = kernel_distance(x, y, subsets=1, subset_size=1000)
    assert std == 0.0
    assert mean == pytest.approx(
        unbiased_mmd2(x[np.random.default_rng(0).permutation(30)[:25]], y), rel=0.5
    )


def test_kid_is_near_zero_for_one_distribution_and_not_for_two() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    shifted = rng.normal(0.5, 1.0, size=(1000, 8))
    same, same_std = kernel_distance(a, b, subsets=20, subset_size=500)
    different, _ = kernel_distance(a, shifted, subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-3
    assert different > 20 * abs(same)


def brute_force_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The definitions, on full distance matrices."""
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    d_fr = np.linalg.norm(fake[:, None] - real[None], axis=-1)
    r_real = np.sort(d_rr, axis=1)[:, k]
    r_fake = np.sort(d_ff, axis=1)[:, k]
    inside = d_fr <= r_real[None, :]
    return {
        "precision": inside.any(1).mean(),
        "recall": (d_fr <= r_fake[:, None]).any(0).mean(),
        "density": inside.sum(1).mean() / k,
        "coverage": (d_fr.min(0) <= r_real).mean(),
    }


def test_prdc_in_chunks_matches_the_definitions(monkeypatch) -> None:
    monkeypatch.setattr(prdc_module, "CHUNK", 7)  # several chunks, a ragged last one
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 5)).astype(np.float32)
    fake = rng.normal(0.4, 1.3, size=(45, 5)).astype(np.float32)
    for k in (3, 5):
        expected = brute_force_prdc(real, fake, k)
        got = prdc(torch.from_numpy(real), torch.from_numpy(fake), k)
        assert got == pytest.approx(expected, abs=1e-6)


def test_prdc_of_the_real_set_against_itself() -> None:
    real = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    result = prdc(real, real, 5)
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0
    assert result["density"] >= 1.0


def test_prdc_of_two_gaussian_samples_matches_the_published_numbers() -> None:
    """8 to 10 s on a quiet 2-core machine (up to ~30 s when other jobs share it); the fast
    check of the same code on small sets is test_prdc_in_chunks_matches_the_definitions.

    Naeem et al.'s reference (the prdc package's README): 10,000 vs 10,000 samples of
    N(0, I) in 1,000 dimensions, k = 5 gave precision 0.4772, recall 0.4705, density 1.0555,
    coverage 0.9735. Over draws these move by a few hundredths (density by up to ~0.08:
    seeds 0, 1, 2 gave 0.91, 0.99, 1.07), so the tolerances are those of one draw."""
    rng = np.random.default_rng(1234)
    real = torch.from_numpy(rng.normal(size=(10_000, 1_000)).astype(np.float32))
    fake = torch.from_numpy(rng.normal(size=(10_000, 1_000)).astype(np.float32))
    result = prdc(real, fake, 5)
    assert result["precision"] == pytest.approx(0.4772, abs=0.03)
    assert result["recall"] == pytest.approx(0.4705, abs=0.03)
    assert result["density"] == pytest.approx(1.0555, abs=0.1)
    assert result["coverage"] == pytest.approx(0.9735, abs=0.02)
