"""Samples to files and back, as ``gankit sample`` writes them and ``gankit evaluate --samples``
reads them.

Vectors: ``.npy`` (the array), ``.npz`` (``x``) or ``.csv`` (a header ``x0,x1,...``). Images:
``.npy`` ((n, H, W) grey or (n, H, W, 3) colour, in the data's pixel units), ``.npz``
(``images``, and ``labels`` for a conditional G) or a folder of PNG files, in a subfolder per
class when conditional. Files are written whole or not at all.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from gankit.data.arrays import load_vectors
from gankit.data.image_files import read_image_folder
from gankit.data.vectors import Standardizer
from gankit.errors import DataError, GankitError
from gankit.files import write_atomically
from gankit.output.image_grids import from_uint8, save_png_folder

if TYPE_CHECKING:
    import pandas as pd

SUFFIXES = (".npy", ".npz", ".csv")
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


def check_suffix(path: Path) -> None:
    """Refuse a file type that no samples are written as."""
    if path.suffix and path.suffix.lower() not in (*SUFFIXES, *TABLE_SUFFIXES):
        raise GankitError(
            f"-o {str(path)!r}: use a file ending in {', '.join(SUFFIXES)} (.tsv, .parquet for "
            "tables), or a folder (PNG files) for images"
        )


def check_target(path: Path, images: bool) -> None:
    """Refuse, before any sampling, a path that these samples cannot be written to."""
    suffix = path.suffix.lower()
    choices = ", ".join(SUFFIXES)
    if suffix and suffix not in SUFFIXES:
        raise GankitError(
            f"-o {str(path)!r}: use a file ending in {choices}, or a folder (PNG files) for images"
        )
    if not images and not suffix:
        raise GankitError(
            f"-o {str(path)!r}: this run makes vectors; use a file ending in {choices}"
        )
    if images and suffix == ".csv":
        raise GankitError(f"-o {str(path)!r}: images go to a folder, .npz or .npy")
    if images and not suffix and path.exists() and any(path.iterdir()):
        raise GankitError(f"-o {str(path)!r} is not empty; choose a new folder")


def write_vectors(path: Path, samples: np.ndarray, labels: np.ndarray | None = None) -> None:
    """(n, d) vectors to ``path`` (.npy, .npz or .csv); an .npz also holds ``labels`` (class
    names), when given, as ``gankit train`` reads labelled vectors."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = io.StringIO()
        header = ",".join(f"x{i}" for i in range(samples.shape[1]))
        np.savetxt(text, samples, delimiter=",", fmt="%.7g", header=header, comments="")
        _write(path, text.getvalue().encode())
    elif labels is not None and suffix == ".npz":
        _write(path, _numpy_bytes(suffix, x=samples, labels=labels))
    else:
        _write(path, _numpy_bytes(suffix, x=samples))


def write_images(
    path: Path,
    samples: np.ndarray,
    network_images: Tensor,
    labels: np.ndarray | None,
    classes: Sequence[str],
) -> None:
    """Images to a PNG folder (from ``network_images``, in [-1, 1]), or to .npz/.npy (from
    ``samples``, in data units)."""
    suffix = path.suffix.lower()
    if not suffix:
        label_tensor = None if labels is None else torch.as_tensor(labels)
        try:
            save_png_folder(network_images, path, label_tensor, classes)
        except OSError as error:
            raise _unwritable(path, error) from None
    elif suffix == ".npy":
        _write(path, _numpy_bytes(suffix, samples=samples))
    elif labels is None:
        _write(path, _numpy_bytes(suffix, images=samples))
    else:
        _write(path, _numpy_bytes(suffix, images=samples, labels=labels))


def check_table_target(path: Path) -> None:
    """Refuse, before sampling, a file that a table's rows are not written as."""
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise GankitError(
            f"-o {str(path)!r}: a table's rows go to a file ending in {', '.join(TABLE_SUFFIXES)}"
        )


def write_table(path: Path, rows: pd.DataFrame) -> None:
    """A table's rows to .csv, .tsv or .parquet, whole or not at all."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        buffer = io.BytesIO()
        rows.to_parquet(buffer, index=False)
        _write(path, buffer.getvalue())
    else:
        _write(path, rows.to_csv(index=False, sep="\t" if suffix == ".tsv" else ",").encode())


def read_table_samples(path: Path) -> pd.DataFrame:
    """Rows of a table as :func:`write_table` writes them."""
    from gankit.data.tables import read_table

    return read_table(path)


def read_vectors(path: Path) -> np.ndarray:
    """Vector samples from a .npy, .npz or .csv file."""
    return load_vectors(path)


def read_images(
    path: Path, standardizer: Standardizer, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Image samples in data units, and their classes if the file tells them (an index into
    ``classes``), from a PNG folder, an .npz or an .npy."""
    if path.is_dir():
        raw = read_image_folder(path)
        if len({image.shape for image in raw.images}) > 1:
            raise DataError(f"images in {str(path)!r} have different sizes")
        pixels = from_uint8(np.stack(raw.images))
        samples = standardizer.inverse(pixels).numpy()
        if raw.labels is None:
            return samples, None
        unknown = sorted(set(raw.classes) - set(classes))
        if unknown:
            raise DataError(f"{str(path)!r} has class folders {unknown} that the run lacks")
        return samples, np.array([list(classes).index(raw.classes[i]) for i in raw.labels])
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                labels = archive["labels"] if "labels" in archive.files else None
                return archive["images"], labels
        return np.load(path, allow_pickle=False), None
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"cannot read images from {str(path)!r}: {reason}") from None


def _numpy_bytes(suffix: str, **arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    if suffix == ".npy":
        (array,) = arrays.values()
        np.save(buffer, array)
    else:
        np.savez(buffer, **arrays)
    return buffer.getvalue()


def _write(path: Path, content: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, content)
    except OSError as error:
        raise _unwritable(path, error) from None


def _unwritable(path: Path, error: OSError) -> GankitError:
    return GankitError(f"cannot write {str(path)!r} ({error.strerror}); choose a writable path")
