"""Image samples as pictures, with Pillow: grids (one row per class for a conditional G) and
folders of PNG files."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.files import write_atomically
from gankit.metrics.memorisation import nearest_records

CELL = 48  # small images are enlarged (nearest neighbour) to at least this many pixels


def to_uint8(images: Tensor) -> np.ndarray:
    """(n, C, H, W) in [-1, 1] to (n, H, W, C) uint8 in 0..255."""
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round()
    return pixels.byte().permute(0, 2, 3, 1).numpy()


def from_uint8(pixels: np.ndarray) -> Tensor:
    """uint8 0..255 to float32 in [-1, 1], the inverse of :func:`to_uint8`'s scaling (any
    layout)."""
    return torch.from_numpy(np.asarray(pixels).astype(np.float32)) / 127.5 - 1


def _picture(pixels: np.ndarray) -> Image.Image:
    """One (H, W, C) uint8 image: grey when C is 1."""
    return Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)


def save_grid(images: Tensor, path: Path, columns: int, gap: int = 2) -> None:
    """Images (n, C, H, W) in [-1, 1], row by row, ``columns`` to a row, as one PNG."""
    pixels = to_uint8(images)
    count, height, width, channels = pixels.shape
    scale = max(1, -(-CELL // max(height, width)))  # ceil(CELL / size)
    pixels = pixels.repeat(scale, axis=1).repeat(scale, axis=2)
    height, width = height * scale, width * scale
    rows = -(-count // columns)
    canvas = np.full(
        (rows * (height + gap) + gap, columns * (width + gap) + gap, channels), 128, np.uint8
    )
    for index, image in enumerate(pixels):
        top = gap + (index // columns) * (height + gap)
        left = gap + (index % columns) * (width + gap)
        canvas[top : top + height, left : left + width] = image
    _save_png(_picture(canvas), path)


def save_png_folder(
    images: Tensor, folder: Path, labels: Tensor | None = None, classes: Sequence[str] = ()
) -> None:
    """One PNG per image in ``folder``, in a subfolder per class when labels are given."""
    for index, pixels in enumerate(to_uint8(images)):
        target = folder if labels is None else folder / classes[int(labels[index])]
        target.mkdir(parents=True, exist_ok=True)
        _save_png(_picture(pixels), target / f"{index:06d}.png")


def save_nearest_pairs(samples: Tensor, records: Tensor, path: Path, count: int = 24) -> None:
    """The ``count`` samples closest to a record, each beside that record (sample on the left),
    closest first, four pairs to a row: the copies a memorising G would make are all here.

    ``samples`` and ``records`` are (n, C, H, W) in [-1, 1].
    """
    nearest = nearest_records(samples, records)
    order = nearest.distance.argsort()[:count]
    pairs = torch.stack([samples[order], records[nearest.index[order]]], dim=1)
    save_grid(pairs.flatten(0, 1), path, columns=8)


def _save_png(picture: Image.Image, path: Path) -> None:
    png = io.BytesIO()
    picture.save(png, format="png")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, png.getvalue())
