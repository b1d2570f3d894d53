"""Metropolis-Hastings GAN (Turner et al. 2019): an independence sampler over G's samples.

With proposals x_k ~ p_g and the target p_data, the chain at x' moves to x_k with probability

    min(1, [p_data(x_k) / p_g(x_k)] / [p_data(x') / p_g(x')])
      = min(1, (1/D(x') - 1) / (1/D(x_k) - 1)) = min(1, exp(l(x_k) - l(x'))),

l the logit of a calibrated D (:mod:`~gankit.sampling.calibration`). Each sample is its own chain
of K proposals, started from a real held-out sample so that no burn-in is needed; a chain that
accepts none of its proposals is run again from another real sample (up to ``RESTARTS`` times),
since a real sample is not G's to return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from gankit.sampling import RefineSettings

if TYPE_CHECKING:
    from gankit.sampling import Logit, Propose

RESTARTS = 10


def metropolis_hastings(
    propose: Propose,
    logit: Logit,
    real: Tensor,
    n: int,
    labels: Tensor | None,
    real_labels: Tensor | None,
    rng: torch.Generator,
    settings: RefineSettings,
) -> tuple[Tensor, dict[str, Any]]:
    """n samples, the last state of n independent chains of ``settings.chain`` proposals each.

    ``real`` (with ``real_labels`` when conditional) are the held-out samples chains start from.
    """
    samples: Tensor | None = None
    missing = torch.arange(n)
    proposed = moved = 0
    for _ in range(RESTARTS):
        wanted = None if labels is None else labels[missing]
        start = _real_starts(real, real_labels, wanted, len(missing), rng)
        current_logit = logit(start, wanted)
        state: Tensor | None = None  # the chain's current sample, once it left the real one
        left = torch.zeros(len(missing), dtype=torch.bool)
        for _ in range(settings.chain):
            x = propose(wanted if labels is not None else len(missing))
            logits = logit(x, wanted)
            accept = torch.rand(len(missing), generator=rng).log() < (logits - current_logit)
            if state is None:
                state = x.clone()
            state[accept] = x[accept]
            current_logit = torch.where(accept, logits, current_logit)
            left |= accept
            proposed += len(missing)
            moved += int(accept.sum())
        if samples is None:
            samples = torch.empty((n, *state.shape[1:]), dtype=state.dtype)
        samples[missing[left]] = state[left]
        missing = missing[~left]
        if len(missing) == 0:
            break
    if len(missing):  # never left the real start: its first proposal of G stands in
        samples[missing] = state[~left]
    return samples, {
        "acceptance_rate": moved / proposed,
        "proposals": proposed,
        "chains_restarted": int(proposed / settings.chain) - n,
    }


def _real_starts(
    real: Tensor,
    real_labels: Tensor | None,
    wanted: Tensor | None,
    count: int,
    rng: torch.Generator,
) -> Tensor:
    """A real sample for each chain: of the chain's class when conditional."""
    if wanted is None:
        return real[torch.randint(len(real), (count,), generator=rng)]
    starts = torch.empty((count, *real.shape[1:]), dtype=real.dtype)
    for label in wanted.unique():
        pool = real[real_labels == label]
        chosen = wanted == label
        starts[chosen] = pool[torch.randint(len(pool), (int(chosen.sum()),), generator=rng)]
    return starts
