"""Metrics of generated samples against the real data."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.data.images import ImageData
from gankit.data.tables import TableData
from gankit.data.vectors import VectorData
from gankit.metrics.frechet import frechet_distance
from gankit.metrics.images import evaluate_images
from gankit.metrics.kid import kernel_distance
from gankit.metrics.mixture import mode_coverage
from gankit.metrics.prdc import prdc
from gankit.metrics.sharpness import high_frequency_share, laplacian_variance


def evaluate_samples(
    samples: Tensor,
    data: VectorData | ImageData | TableData,
    seed: int = 0,
    labels: Tensor | None = None,
) -> dict[str, Any]:
    """The metrics that fit the data's kind.

    Vectors (in data space): mixtures with a known density get PacGAN's mode coverage and
    the mean exact log-likelihood log p_data(G(z)); every data set gets the Frechet distance
    between Gaussians fitted to the samples and to as many real vectors. Images ((n, C, H, W)
    in [-1, 1], as G makes them; ``labels`` for a conditional G): see
    :func:`~gankit.metrics.images.evaluate_images`. Tables (encoded rows, as G makes them): see
    :func:`~gankit.metrics.tables.table_metrics`, against the held-out rows.
    """
    if isinstance(data, ImageData):
        return evaluate_images(samples, data, labels, seed)
    if isinstance(data, TableData):
        from gankit.metrics.tables import table_metrics  # sdmetrics takes a second to import

        synthetic = data.transformer.inverse_transform(samples.numpy())
        kinds = {column.name: column.kind for column in data.columns}
        return table_metrics(synthetic, data.frame, data.heldout, kinds, data.target)
    real = data.real_samples(len(samples), torch.Generator().manual_seed(seed))
    metrics: dict[str, float | None] = {"frechet": frechet_distance(samples.numpy(), real.numpy())}
    if data.density is not None:
        metrics.update(mode_coverage(samples, data.density))
        metrics["log_likelihood"] = float(data.density.log_prob(samples).mean())
    return metrics


__all__ = [
    "evaluate_images",
    "evaluate_samples",
    "frechet_distance",
    "high_frequency_share",
    "kernel_distance",
    "laplacian_variance",
    "mode_coverage",
    "prdc",
]
