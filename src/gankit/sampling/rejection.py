"""Discriminator rejection sampling (Azadi et al. 2019).

Exact rejection sampling of p_data from proposals x ~ p_g accepts x with probability
p_data(x) / (M p_g(x)) = exp(l(x) - l_max), M = exp(l_max) the largest ratio. DRS writes that
probability as a logistic of

    F(x) = l(x) - l_max - log(1 - exp(l(x) - l_max - eps))

(the logit of exp(l - l_max - eps)) and accepts with probability sigmoid(F(x) - gamma): gamma = 0
is exact rejection, up to eps; a gamma below 0 accepts more, trading exactness for speed. By
default gamma is a percentile of F over a burn-in batch of proposals, on which l_max is first
estimated; a later proposal above l_max raises it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.sampling import RefineSettings

if TYPE_CHECKING:
    from gankit.sampling import Logit, Propose

EPSILON = 1e-6
MAX_ROUNDS = 10_000


def acceptance_logit(logits: Tensor, logit_max: float) -> Tensor:
    """F = l - l_max - log(1 - exp(l - l_max - eps)), in float64."""
    shifted = logits.double() - logit_max
    return shifted - torch.log1p(-torch.exp(shifted - EPSILON))


def discriminator_rejection(
    propose: Propose,
    logit: Logit,
    n: int,
    labels: Tensor | None,
    rng: torch.Generator,
    settings: RefineSettings,
) -> tuple[Tensor, dict[str, Any]]:
    """n samples (of ``labels[i]`` at position i when conditional), accepted by DRS."""
    burn_labels = None if labels is None else labels[torch.arange(settings.burn_in) % len(labels)]
    burn_in = logit(propose(burn_labels if labels is not None else settings.burn_in), burn_labels)
    logit_max = float(burn_in.max())
    gamma = settings.gamma
    if gamma is None:
        gamma = float(np.percentile(acceptance_logit(burn_in, logit_max), settings.percentile))

    samples: Tensor | None = None
    missing = torch.arange(n)  # positions still to fill
    proposed = 0
    for _ in range(MAX_ROUNDS):
        wanted = None if labels is None else labels[missing]
        x = propose(wanted if labels is not None else len(missing))
        logits = logit(x, wanted)
        logit_max = max(logit_max, float(logits.max()))
        probability = torch.sigmoid(acceptance_logit(logits, logit_max) - gamma)
        accepted = torch.rand(len(missing), generator=rng, dtype=torch.float64) < probability
        if samples is None:
            samples = torch.empty((n, *x.shape[1:]), dtype=x.dtype)
        samples[missing[accepted]] = x[accepted]
        proposed += len(missing)
        missing = missing[~accepted]
        if len(missing) == 0:
            break
    else:
        fix = "lower --percentile" if settings.gamma is None else "give a lower --gamma"
        raise GankitError(
            f"DRS accepted only {n - len(missing)} of {n} samples in {MAX_ROUNDS} rounds "
            f"({proposed} proposals, gamma {gamma:.3g}); {fix} to accept more"
        )
    return samples, {
        "acceptance_rate": n / proposed,
        "proposals": proposed + settings.burn_in,
        "gamma": gamma,
        "logit_max": logit_max,
    }
