"""The adversarial objectives, computed from D's raw output l(x) (its logit).

With D(x) = sigmoid(l):  -log D(x) = softplus(-l)  and  -log(1 - D(x)) = softplus(l).
Both are exact and stable for any l, where log(sigmoid(l)) underflows to -inf.

The hinge, Wasserstein and least-squares objectives read l(x) itself as D's score, written
D(x) in their formulas below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.functional import relu, softplus


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D = -E_x[log D(x)] - E_z[log(1 - D(G(z)))]."""
    real_term = softplus(-real_logits).mean()  # -E_x[log D(x)]
    fake_term = softplus(fake_logits).mean()  # -E_z[log(1 - D(G(z)))]
    return real_term + fake_term


def conditional_cross_entropy(rows: Tensor, labels: Tensor, slots: Tensor) -> Tensor:
    """-E_z[log G(z, c)_slot(c)]: the cross-entropy between G's one-hot output for the column of
    condition c and c's category (CTGAN's term that makes G honour its condition). ``slots[c]`` is
    the position of c's category in a row; G's (Gumbel-)softmax output there is its probability."""
    chosen = rows.gather(1, slots[labels][:, None]).squeeze(1)
    return -torch.log(chosen.clamp_min(1e-8)).mean()  # -log p, p a softmax output, not D's


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """L_G = E_z[log(1 - D(G(z)))], the generator's side of the minimax game."""
    return -softplus(fake_logits).mean()  # E_z[log(1 - D(G(z)))]


def nonsaturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """L_G = -E_z[log D(G(z))]: same fixed point, strong gradients when D rejects the fakes."""
    return softplus(-fake_logits).mean()  # -E_z[log D(G(z))]


def hinge_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D = E_x[max(0, 1 - D(x))] + E_z[max(0, 1 + D(G(z)))] (Lim & Ye 2017; SNGAN)."""
    real_term = relu(1 - real_logits).mean()  # E_x[max(0, 1 - D(x))]
    fake_term = relu(1 + fake_logits).mean()  # E_z[max(0, 1 + D(G(z)))]
    return real_term + fake_term


def hinge_generator_loss(fake_logits: Tensor) -> Tensor:
    """L_G = -E_z[D(G(z))], G's side of the hinge game."""
    return -fake_logits.mean()  # -E_z[D(G(z))]


def wasserstein_critic_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D = E_z[D(G(z))] - E_x[D(x)]: minus the critic's estimate of W_1 (Arjovsky et al. 2017)."""
    return fake_logits.mean() - real_logits.mean()  # E_z[D(G(z))] - E_x[D(x)]


def wasserstein_generator_loss(fake_logits: Tensor) -> Tensor:
    """L_G = -E_z[D(G(z))]."""
    return -fake_logits.mean()  # -E_z[D(G(z))]


def least_squares_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D = 1/2 E_x[(D(x) - 1)^2] + 1/2 E_z[D(G(z))^2] (LSGAN, Mao et al. 2017, a=0, b=c=1)."""
    real_term = 0.5 * (real_logits - 1).square().mean()  # 1/2 E_x[(D(x) - 1)^2]
    fake_term = 0.5 * fake_logits.square().mean()  # 1/2 E_z[D(G(z))^2]
    return real_term + fake_term


def least_squares_generator_loss(fake_logits: Tensor) -> Tensor:
    """L_G = 1/2 E_z[(D(G(z)) - 1)^2]."""
    return 0.5 * (fake_logits - 1).square().mean()  # 1/2 E_z[(D(G(z)) - 1)^2]


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """GP = E[(||grad D(x_hat)||_2 - 1)^2] at x_hat = eps x + (1 - eps) G(z), eps ~ U(0, 1).

    WGAN-GP (Gulrajani et al. 2017): keeps the critic near 1-Lipschitz between the real and
    fake samples; scaled by lambda (10 in the paper).
    """
    shape = (len(real),) + (1,) * (real.ndim - 1)
    eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (gradient,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norm = (gradient.flatten(1).square().sum(1) + 1e-12).sqrt()  # eps: finite slope at 0
    return (norm - 1).square().mean()  # E[(||grad D(x_hat)||_2 - 1)^2]


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 = 1/2 E_x[||grad_x l(x)||^2] on real data (Mescheder et al. 2018); scaled by gamma."""
    (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return 0.5 * gradient.square().flatten(1).sum(1).mean()


@dataclass(frozen=True)
class Objective:
    """A pair of losses: D minimises ``discriminator`` (+ ``gradient_penalty`` x GP when > 0),
    G minimises ``generator``."""

    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    gradient_penalty: float = 0.0


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective(discriminator_loss, minimax_generator_loss),
    "nonsaturating": Objective(discriminator_loss, nonsaturating_generator_loss),
    "hinge": Objective(hinge_discriminator_loss, hinge_generator_loss),
    "wgan-gp": Objective(
        wasserstein_critic_loss, wasserstein_generator_loss, gradient_penalty=10.0
    ),
    "lsgan": Objective(least_squares_discriminator_loss, least_squares_generator_loss),
}
