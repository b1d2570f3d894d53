import math

import pytest
import torch

from gankit.objectives import (
    OBJECTIVES,
    discriminator_loss,
    minimax_generator_loss,
    nonsaturating_generator_loss,
    r1_penalty,
)

REAL_LOGITS = torch.tensor([0.0, math.log(3.0), -2.0, 5.0], dtype=torch.float64)
FAKE_LOGITS = torch.tensor([0.0, -math.log(3.0), 1.5, -4.0], dtype=torch.float64)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_discriminator_loss_is_the_closed_form() -> None:
    expected = (
        -sum(math.log(sigmoid(logit)) for logit in REAL_LOGITS.tolist()) / 4
        - sum(math.log(1 - sigmoid(logit)) for logit in FAKE_LOGITS.tolist()) / 4
    )
    assert discriminator_loss(REAL_LOGITS, FAKE_LOGITS).item() == pytest.approx(expected, rel=1e-12)


def test_discriminator_loss_at_d_one_half_is_log_4() -> None:
    zeros = torch.zeros(10)
    assert discriminator_loss(zeros, zeros).item() == pytest.approx(math.log(4), rel=1e-6)


def test_generator_losses_are_the_closed_forms() -> None:
    minimax = sum(math.log(1 - sigmoid(logit)) for logit in FAKE_LOGITS.tolist()) / 4
    nonsaturating = -sum(math.log(sigmoid(logit)) for logit in FAKE_LOGITS.tolist()) / 4
    assert minimax_generator_loss(FAKE_LOGITS).item() == pytest.approx(minimax, rel=1e-12)
    assert nonsaturating_generator_loss(FAKE_LOGITS).item() == pytest.approx(
        nonsaturating, rel=1e-12
    )


def test_losses_stay_finite_where_log_sigmoid_underflows() -> None:
    extreme = torch.tensor([-200.0, 200.0])
    for value in (
        discriminator_loss(extreme, extreme),
        minimax_generator_loss(extreme),
        nonsaturating_generator_loss(extreme),
    ):
        assert torch.isfinite(value)
    # -log D(G(z)) for a confidently rejected fake (logit -200) is 200, not inf.
    assert nonsaturating_generator_loss(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_minimax_saturates_and_nonsaturating_does_not() -> None:
    """When D rejects a fake confidently, d/dl log(1 - D) -> 0 but d/dl -log D -> -1."""
    logits = torch.tensor([-10.0], requires_grad=True)
    (minimax_grad,) = torch.autograd.grad(minimax_generator_loss(logits), logits)
    (nonsat_grad,) = torch.autograd.grad(nonsaturating_generator_loss(logits), logits)
    assert abs(minimax_grad.item()) < 1e-4
    assert nonsat_grad.item() == pytest.approx(-1.0, abs=1e-4)


def test_registry_pairs_the_same_discriminator_loss_with_both_generator_forms() -> None:
    assert OBJECTIVES["minimax"].discriminator is discriminator_loss
    assert OBJECTIVES["nonsaturating"].discriminator is discriminator_loss
    assert OBJECTIVES["minimax"].generator is minimax_generator_loss
    assert OBJECTIVES["nonsaturating"].generator is nonsaturating_generator_loss


def test_r1_penalty_of_a_linear_discriminator() -> None:
    """For l(x) = w.x, grad_x l = w everywhere, so R1 = ||w||^2 / 2."""
    w = torch.tensor([3.0, -4.0])
    x = torch.randn(16, 2, requires_grad=True)
    assert r1_penalty(x @ w, x).item() == pytest.approx(12.5)
