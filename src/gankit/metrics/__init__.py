"""Metrics of generated samples against the real data."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.vectors import VectorData
from gankit.metrics.frechet import frechet_distance
from gankit.metrics.mixture import mode_coverage


def evaluate_samples(samples: Tensor, data: VectorData, seed: int = 0) -> dict[str, float | None]:
    """The metrics that fit the data's kind, for samples in data space.

    Mixtures with a known density get PacGAN's mode coverage and the mean exact
    log-likelihood log p_data(G(z)); every data set gets the Frechet distance between
    Gaussians fitted to the samples and to as many real vectors.
    """
    real = data.real_samples(len(samples), torch.Generator().manual_seed(seed))
    metrics: dict[str, float | None] = {"frechet": frechet_distance(samples.numpy(), real.numpy())}
    if data.density is not None:
        metrics.update(mode_coverage(samples, data.density))
        metrics["log_likelihood"] = float(data.density.log_prob(samples).mean())
    return metrics


__all__ = ["evaluate_samples", "frechet_distance", "mode_coverage"]
