"""The user's own images: a folder of PNG/JPEG files (a subfolder per class), or an ``.npz``.

Both are read into :class:`RawImages`, the images as the file holds them (any size, 1 or 3
channels, their own pixel range), with labels when there are; :mod:`gankit.data.images`
turns that into training tensors. Anything that cannot be trained on stops here with a
one-line :class:`~gankit.errors.DataError` naming the file.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gankit.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


@dataclass
class RawImages:
    """Images as read: each (H, W, C) with C 1 or 3; labels 0..K-1 naming ``classes``, or None."""

    images: list[np.ndarray]
    labels: np.ndarray | None
    classes: list[str]
    pixel_range: tuple[float, float]  # the values that mean black and white


def is_image_source(path: Path) -> bool:
    """True for a folder, or an .npz holding an ``images`` array."""
    if path.is_dir():
        return True
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as archive:
            return "images" in archive.files
    except (ValueError, OSError, zipfile.BadZipFile, EOFError):
        return False  # load_vectors reports it


def read_image_folder(folder: Path) -> RawImages:
    """Images directly in ``folder`` (unlabelled), or in one subfolder per class (labelled)."""
    entries = sorted(folder.iterdir())
    files = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    subfolders = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    if files and subfolders:
        raise DataError(
            f"image folder {str(folder)!r} has both images and subfolders; put every image in "
            "a subfolder named after its class, or all of them directly in the folder"
        )
    if not subfolders:
        if not files:
            raise DataError(
                f"image folder {str(folder)!r} has no PNG or JPEG images "
                "(nor class subfolders holding them)"
            )
        images = [_read_image(path) for path in files]
        return RawImages(images, None, [], (0.0, 255.0))
    images, labels = [], []
    for label, subfolder in enumerate(subfolders):
        paths = sorted(
            p for p in subfolder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not paths:
            raise DataError(f"class folder {str(subfolder)!r} has no PNG or JPEG images")
        images += [_read_image(path) for path in paths]
        labels += [label] * len(paths)
    classes = [subfolder.name for subfolder in subfolders]
    return RawImages(images, np.asarray(labels), classes, (0.0, 255.0))


def _read_image(path: Path) -> np.ndarray:
    """(H, W, 1) for a grey image, (H, W, 3) otherwise (alpha is dropped), uint8."""
    try:
        with Image.open(path) as image:
            grey = image.mode in _GREY_MODES
            pixels = np.asarray(image.convert("L" if grey else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"cannot read image {str(path)!r}: {reason}") from None
    return pixels[..., None] if grey else pixels


def read_image_archive(path: Path) -> RawImages:
    """``images`` (N, H, W) or (N, H, W, C) with C 1 or 3, and optional ``labels`` (N,)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = archive["images"]
            labels = archive["labels"] if "labels" in archive.files else None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"cannot read image file {str(path)!r}: {reason}") from None
    source = f"{path}:images"
    if images.dtype == object or not (
        np.issubdtype(images.dtype, np.number) or images.dtype == bool
    ):
        raise DataError(f"{source!r} is not numeric (dtype {images.dtype})")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise DataError(
            f"{source!r} has shape {images.shape}; images need shape (N, H, W) or "
            "(N, H, W, C) with C 1 or 3, and N >= 1"
        )
    pixel_range = _pixel_range(images, source)
    classes: list[str] = []
    if labels is not None:
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(
                f"'{path}:labels' has shape {labels.shape} for {len(images)} images; "
                "give one label per image"
            )
        values, labels = np.unique(labels, return_inverse=True)
        classes = [str(value) for value in values]
    return RawImages(list(images), labels, classes, pixel_range)


def _pixel_range(images: np.ndarray, source: str) -> tuple[float, float]:
    """Black and white: 0 and 255 (65535 for uint16), or [0, 1] / [-1, 1] for floats."""
    if images.dtype == bool:
        return (0.0, 1.0)
    if images.dtype == np.uint16:
        return (0.0, 65535.0)
    if np.issubdtype(images.dtype, np.integer):
        if images.min() < 0 or images.max() > 255:
            raise DataError(
                f"{source!r} has integer pixels outside 0..255; store uint8 (or uint16)"
            )
        return (0.0, 255.0)
    if not np.isfinite(images).all():
        raise DataError(f"{source!r} has NaN or Inf pixels")
    low, high = float(images.min()), float(images.max())
    if low >= 0 and high <= 1:
        return (0.0, 1.0)
    if low >= -1 and high <= 1:
        return (-1.0, 1.0)
    raise DataError(
        f"{source!r} has float pixels in [{low:g}, {high:g}]; scale them to [0, 1] "
        "or [-1, 1], or store uint8"
    )
