"""The hinge, Wasserstein (+ gradient penalty) and least-squares losses on fixed inputs."""

import pytest
import torch

from gankit.objectives import (
    OBJECTIVES,
    gradient_penalty,
    hinge_discriminator_loss,
    hinge_generator_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)

REAL = torch.tensor([2.0, 0.5, -1.0, 0.0], dtype=torch.float64)
FAKE = torch.tensor([-2.0, -0.5, 1.5, 0.0], dtype=torch.float64)


def test_hinge_losses_are_the_closed_forms() -> None:
    # real: max(0, 1 - D) = 0, 0.5, 2, 1; fake: max(0, 1 + D) = 0, 0.5, 2.5, 1
    assert hinge_discriminator_loss(REAL, FAKE).item() == pytest.approx(3.5 / 4 + 4.0 / 4)
    assert hinge_generator_loss(FAKE).item() == pytest.approx(1.0 / 4)  # -mean(-2, -0.5, 1.5, 0)


def test_wasserstein_losses_are_the_closed_forms() -> None:
    # E[D(G(z))] = (-2 - 0.5 + 1.5 + 0) / 4 = -0.25; E[D(x)] = (2 + 0.5 - 1 + 0) / 4 = 0.375
    assert wasserstein_critic_loss(REAL, FAKE).item() == pytest.approx(-0.25 - 0.375)
    assert wasserstein_generator_loss(FAKE).item() == pytest.approx(0.25)


def test_least_squares_losses_are_the_closed_forms() -> None:
    # 1/2 mean (D(x) - 1)^2 = 1/2 (1 + 0.25 + 4 + 1) / 4
    # 1/2 mean D(G(z))^2 = 1/2 (4 + 0.25 + 2.25) / 4
    expected_d = 0.5 * 6.25 / 4 + 0.5 * 6.5 / 4
    assert least_squares_discriminator_loss(REAL, FAKE).item() == pytest.approx(expected_d)
    # 1/2 mean (D(G(z)) - 1)^2 = 1/2 (9 + 2.25 + 0.25 + 1) / 4
    assert least_squares_generator_loss(FAKE).item() == pytest.approx(0.5 * 12.5 / 4)


def test_gradient_penalty_of_a_linear_critic() -> None:
    """D(x) = w.x has gradient w everywhere: GP = (||w|| - 1)^2 wherever it is measured."""
    w = torch.tensor([3.0, 4.0])
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    penalty = gradient_penalty(lambda x: x @ w, real, fake, torch.Generator().manual_seed(0))
    assert penalty.item() == pytest.approx((5.0 - 1.0) ** 2, rel=1e-5)


def test_gradient_penalty_is_zero_for_a_unit_slope_and_reaches_the_critic() -> None:
    layer = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.6, 0.8, 0.0]]))
    images = torch.randn(8, 3)
    penalty = gradient_penalty(lambda x: layer(x).squeeze(-1), images, -images)
    assert penalty.item() == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        layer.weight.mul_(2)
    gradient_penalty(lambda x: layer(x).squeeze(-1), images, -images).backward()
    assert layer.weight.grad.norm() > 0  # create_graph: the penalty trains the critic


def test_registry_names_every_objective() -> None:
    assert set(OBJECTIVES) == {"minimax", "nonsaturating", "hinge", "wgan-gp", "lsgan"}
    assert OBJECTIVES["wgan-gp"].gradient_penalty == 10.0
    assert all(OBJECTIVES[name].gradient_penalty == 0 for name in ("hinge", "lsgan"))
