"""The one loop of gankit's small supervised trainings: the metrics' feature network, the VAE
and the discriminator of the optimal-d check.

Each of them is Adam on a loss of minibatches; what differs is the loss, where the minibatches
come from and how the random streams are seeded. :func:`fit` is the part they share, and it
draws nothing at random itself: the caller seeds its minibatch generator and the global stream
(initial weights, dropout, a VAE's noise), so the numbers depend on the caller alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TypeVar

import torch
from torch import Tensor, nn

from gankit.errors import GankitError

Batch = TypeVar("Batch")


def fit(
    module: nn.Module,
    loss: Callable[[Batch], Tensor],
    batches: Iterable[Batch],
    *,
    lr: float,
    weight_decay: float = 0.0,
    lr_factor: Callable[[int], float] | None = None,
    name: str = "network",
) -> list[float]:
    """Train ``module`` by Adam, one step on ``loss(batch)`` for each of ``batches`` in turn.

    ``lr_factor(step)`` multiplies ``lr`` at each step (torch's LambdaLR); ``name`` says what
    is trained, in the error. The module trains in train mode and is left in eval mode.
    Returns the loss of every step; raises :class:`GankitError` at the first one that is not
    finite, since every later step would only spread the NaN through the weights.
    """
    module.train()
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor) if lr_factor else None
    losses = []
    for step, batch in enumerate(batches):
        value = loss(batch)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(value.item())
        if not math.isfinite(losses[-1]):
            raise GankitError(
                f"the {name}'s loss is {losses[-1]} at step {step}; lower lr (now {lr})"
            )
    module.eval()
    return losses
