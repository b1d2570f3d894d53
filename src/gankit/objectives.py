"""The adversarial objectives, computed from D's logits l = logit D(x).

With D(x) = sigmoid(l):  -log D(x) = softplus(-l)  and  -log(1 - D(x)) = softplus(l).
Both are exact and stable for any l, where log(sigmoid(l)) underflows to -inf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.functional import softplus


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """L_D = -E_x[log D(x)] - E_z[log(1 - D(G(z)))]."""
    real_term = softplus(-real_logits).mean()  # -E_x[log D(x)]
    fake_term = softplus(fake_logits).mean()  # -E_z[log(1 - D(G(z)))]
    return real_term + fake_term


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """L_G = E_z[log(1 - D(G(z)))], the generator's side of the minimax game."""
    return -softplus(fake_logits).mean()  # E_z[log(1 - D(G(z)))]


def nonsaturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """L_G = -E_z[log D(G(z))]: same fixed point, strong gradients when D rejects the fakes."""
    return softplus(-fake_logits).mean()  # -E_z[log D(G(z))]


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 = 1/2 E_x[||grad_x l(x)||^2] on real data (Mescheder et al. 2018); scaled by gamma."""
    (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return 0.5 * gradient.square().flatten(1).sum(1).mean()


@dataclass(frozen=True)
class Objective:
    """A pair of losses: D minimises ``discriminator``, G minimises ``generator``."""

    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective(discriminator_loss, minimax_generator_loss),
    "nonsaturating": Objective(discriminator_loss, nonsaturating_generator_loss),
}
