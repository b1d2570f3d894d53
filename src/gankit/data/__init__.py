"""Data sources, chosen by name: built-in mixtures with exact densities, or the user's own file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from gankit.config import Config
from gankit.data.arrays import VECTOR_SUFFIXES, load_vectors
from gankit.data.mixtures import GaussianMixture, grid, mixture1d, ring
from gankit.data.vectors import Standardizer, VectorData
from gankit.errors import DataError

MIXTURES: dict[str, Callable[[Config], GaussianMixture]] = {
    "ring8": lambda config: ring(modes=8, radius=1.0, std=0.01),
    "grid25": lambda config: grid(side=5, spacing=2.0, std=0.05),
    "mixture1d": lambda config: mixture1d(**vars(config.mixture)),
}


def load_data(config: Config) -> VectorData:
    """The data named by ``config.data``: a built-in name or a path to a .npy/.npz/.csv file."""
    if config.data in MIXTURES:
        density = MIXTURES[config.data](config)
        return VectorData(
            config.data,
            Standardizer(density.mean().float(), density.std().float()),
            density=density,
        )
    path = Path(config.data)
    if path.suffix.lower() in VECTOR_SUFFIXES or path.exists():
        points = torch.from_numpy(load_vectors(path))
        return VectorData(path.stem, Standardizer.fit(points), points=points)
    raise DataError(
        f"unknown data {config.data!r}; use one of {', '.join(MIXTURES)} or a path "
        "to a .npy, .npz or .csv file"
    )


__all__ = ["MIXTURES", "GaussianMixture", "Standardizer", "VectorData", "load_data"]
