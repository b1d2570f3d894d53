import math

import pytest
import torch

from gankit.data.mixtures import GaussianMixture, grid, mixture1d, ring


def integrate_2d(mixture: GaussianMixture, span: float, step: float) -> float:
    ticks = torch.arange(-span, span + step / 2, step, dtype=torch.float64)
    total = 0.0
    for row in ticks.split(200):
        points = torch.cartesian_prod(row, ticks)
        total += mixture.log_prob(points).exp().sum().item()
    return total * step * step


def test_1d_mixture_density_integrates_to_one() -> None:
    mixture = mixture1d([-2.0, 0.5, 3.0], [0.3, 1.0, 0.05], [0.2, 0.5, 0.3])
    x = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    density = mixture.log_prob(x[:, None]).exp()
    assert torch.trapezoid(density, x).item() == pytest.approx(1.0, abs=1e-6)


def test_ring8_density_integrates_to_one() -> None:
    assert integrate_2d(ring(), span=1.1, step=0.002) == pytest.approx(1.0, abs=1e-4)


def test_grid25_density_integrates_to_one() -> None:
    assert integrate_2d(grid(), span=4.5, step=0.01) == pytest.approx(1.0, abs=1e-4)


def test_benchmark_geometry() -> None:
    ring8 = ring()
    assert ring8.num_modes == 8
    assert torch.allclose(ring8.means.norm(dim=1), torch.ones(8, dtype=torch.float64))
    assert torch.allclose(ring8.stds, torch.full((8, 2), 0.01, dtype=torch.float64))
    grid25 = grid()
    assert sorted(set(grid25.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert grid25.num_modes == 25


def test_log_prob_of_a_single_gaussian() -> None:
    gaussian = mixture1d([1.0], [2.0], [1.0])
    x = torch.tensor([[3.0]])
    expected = -0.5 * 1.0 - math.log(2.0) - 0.5 * math.log(2 * math.pi)
    assert gaussian.log_prob(x).item() == pytest.approx(expected, rel=1e-12)


def test_log_prob_is_finite_far_in_the_tails() -> None:
    assert torch.isfinite(ring().log_prob(torch.tensor([[50.0, 50.0]]))).all()


def test_samples_match_the_exact_moments() -> None:
    mixture = mixture1d([-2.0, 3.0], [0.5, 1.0], [0.25, 0.75])
    samples = mixture.sample(200_000, torch.Generator().manual_seed(0)).double()
    assert samples.mean().item() == pytest.approx(mixture.mean().item(), abs=0.02)
    assert samples.std().item() == pytest.approx(mixture.std().item(), abs=0.02)


def test_sampling_is_seeded() -> None:
    a = grid().sample(100, torch.Generator().manual_seed(3))
    b = grid().sample(100, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
