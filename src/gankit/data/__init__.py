"""Data sources, chosen by name: built-in mixtures with exact densities, built-in images and
tables, or the user's own vectors (.npy/.npz), images (a folder, or an .npz holding ``images``)
or tables (.csv/.tsv/.parquet)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gankit.config import BUILT_IN_DATA, Config, MixtureConfig, RareConfig, data_kind
from gankit.data.arrays import VECTOR_SUFFIXES, load_labels, load_vectors
from gankit.data.digits import load_digits
from gankit.data.image_files import (
    RawImages,
    is_image_source,
    read_image_archive,
    read_image_folder,
)
from gankit.data.images import ImageData, prepare_images
from gankit.data.mixtures import GaussianMixture, grid, mixture, mixture1d, ring
from gankit.data.mnist import load_mnist
from gankit.data.split import holdout_split, rare_rows
from gankit.data.tables import BUILT_IN_TABLES, TableData, load_table
from gankit.data.vectors import Standardizer, VectorData
from gankit.errors import DataError

MIXTURES: dict[str, Callable[[Config], GaussianMixture]] = {
    "ring8": lambda config: ring(modes=8, radius=1.0, std=0.01),
    "grid25": lambda config: grid(side=5, spacing=2.0, std=0.05),
    "mixture1d": lambda config: _one_dimensional(config.mixture),
    "mixture": lambda config: mixture(**vars(config.mixture)),
}

IMAGE_SETS: dict[str, Callable[[], RawImages]] = {"digits": load_digits, "mnist": load_mnist}
VECTOR_HOLDOUT = 0.2
"""The share of each class of labelled vectors held out, as for images and tables."""
# config.BUILT_IN_DATA names each of these, so that the config knows a built-in name's kind.
assert set(MIXTURES) | set(IMAGE_SETS) | set(BUILT_IN_TABLES) == set(BUILT_IN_DATA)


def load_data(config: Config) -> VectorData | ImageData | TableData:
    """The data named by ``config.data``: a built-in name, or a path to the user's own data."""
    if config.data in BUILT_IN_TABLES or data_kind(config.data) == "tables":
        return load_table(config)
    if config.data in IMAGE_SETS:
        return prepare_images(config.data, IMAGE_SETS[config.data](), config.image, config.rare)
    if config.data in MIXTURES:
        density = MIXTURES[config.data](config)
        return VectorData(
            config.data,
            Standardizer(density.mean().float(), density.std().float()),
            density=density,
        )
    path = Path(config.data)
    if is_image_source(path):
        read = read_image_folder if path.is_dir() else read_image_archive
        return prepare_images(str(path), read(path), config.image, config.rare)
    if path.suffix.lower() in VECTOR_SUFFIXES or path.exists():
        points = torch.from_numpy(load_vectors(path))
        labelled = load_labels(path, len(points))
        if labelled is not None:
            return _labelled_vectors(path, points, *labelled, config.rare)
        return VectorData(path.stem, _standardizer(path, points), points=points)
    raise DataError(
        f"unknown data {config.data!r}; use one of {', '.join(BUILT_IN_DATA)} or a path to a "
        ".npy or .npz file of vectors, a .csv, .tsv or .parquet table, or a folder of images"
    )


def _one_dimensional(settings: MixtureConfig) -> GaussianMixture:
    if settings.dim != 1:
        raise DataError(
            f"data=mixture1d is one-dimensional; for mixture.dim={settings.dim} use data=mixture"
        )
    return mixture1d(settings.means, settings.stds, settings.weights)


def _standardizer(path: Path, points: torch.Tensor) -> Standardizer:
    standardizer = Standardizer.fit(points)
    if not standardizer.forward(points).isfinite().all():
        raise DataError(
            f"data in {str(path)!r} spans too wide a range to standardise in float32 (up to "
            f"{float(points.abs().max()):.3g}); rescale it, e.g. divide by a power of ten"
        )
    return standardizer


def _labelled_vectors(
    path: Path, points: torch.Tensor, labels: np.ndarray, classes: list[str], rare: RareConfig
) -> VectorData:
    """Labelled points, split as labelled images are (:mod:`gankit.data.split`): held-out
    points of each class, and with ``rare.label`` that class made rare in training."""
    train, heldout = holdout_split(labels, VECTOR_HOLDOUT)
    validation = train[:0]
    if rare.label:
        if rare.label not in classes:
            raise DataError(
                f"rare.label={rare.label!r} is not a class of {str(path)!r}; use one of "
                f"{', '.join(classes)}"
            )
        is_rare = labels[train] == classes.index(rare.label)
        what = f"class {rare.label!r}"
        kept, held = rare_rows(is_rare, rare.prevalence, rare.seed, rare.validation, what)
        train, validation = train[kept], train[held]
    tensor = torch.from_numpy(labels)
    return VectorData(
        path.stem,
        _standardizer(path, points[train]),
        points=points[train],
        labels=tensor[train],
        classes=classes,
        heldout_points=points[heldout],
        heldout_labels=tensor[heldout],
        validation_points=points[validation],
        validation_labels=tensor[validation],
    )


def class_count(config: Config, data: VectorData | ImageData | TableData) -> int:
    """K, the classes a conditional GAN on ``data`` is conditioned on; 0 when unconditional.

    For a table, K counts the (categorical column, category) pairs; a table with no categorical
    column trains unconditionally.
    """
    if not config.conditional or (isinstance(data, TableData) and data.num_classes == 0):
        return 0
    if data.num_classes == 0:
        raise DataError(
            f"conditional=true needs labelled data, and {data.name!r} has no labels; "
            "use digits, one subfolder per class, a table, or an .npz with 'x' and 'labels'"
        )
    return data.num_classes


__all__ = [
    "IMAGE_SETS",
    "MIXTURES",
    "GaussianMixture",
    "ImageData",
    "Standardizer",
    "TableData",
    "VectorData",
    "class_count",
    "load_data",
]
