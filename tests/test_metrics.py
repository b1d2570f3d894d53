import math

import numpy as np
import pytest
import torch

from gankit.data.mixtures import grid, ring
from gankit.metrics import frechet_distance, mode_coverage


def test_samples_at_every_mode_are_perfect() -> None:
    mixture = ring()
    samples = mixture.means.repeat(10, 1)
    result = mode_coverage(samples, mixture)
    assert result == {"modes": 8, "high_quality": 1.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}


def test_half_the_modes_gives_reverse_kl_log_2() -> None:
    mixture = ring()
    samples = mixture.means[:4].repeat(25, 1)
    result = mode_coverage(samples, mixture)
    assert result["modes"] == 4
    assert result["reverse_kl"] == pytest.approx(math.log(2))


def test_high_quality_threshold_is_three_standard_deviations() -> None:
    mixture = grid()  # std 0.05, so the threshold is 0.15 from a mode
    inside = mixture.means[0] + torch.tensor([0.149, 0.0], dtype=torch.float64)
    outside = mixture.means[1] + torch.tensor([0.0, 0.151], dtype=torch.float64)
    result = mode_coverage(torch.stack([inside, outside]), mixture)
    assert result["modes"] == 1
    assert result["high_quality"] == 0.5


def test_no_high_quality_sample_leaves_reverse_kl_undefined() -> None:
    result = mode_coverage(torch.full((5, 2), 10.0), ring())
    assert result == {"modes": 0, "high_quality": 0.0, "reverse_kl": None}


def test_true_samples_score_near_perfect() -> None:
    mixture = grid()
    result = mode_coverage(mixture.sample(2500, torch.Generator().manual_seed(0)), mixture)
    assert result["modes"] == 25
    assert result["high_quality"] > 0.98  # P(chi_2 < 9) = 0.989
    assert result["reverse_kl"] < 0.02


def test_frechet_distance_of_gaussians_matches_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, size=(50_000, 2))
    y = rng.normal(1.0, 2.0, size=(50_000, 2))
    # ||mu_x - mu_y||^2 + tr(I + 4I - 2 * 2I) = 2 + 2
    assert frechet_distance(x, y) == pytest.approx(4.0, rel=0.03)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
