"""The user's own vectors: ``.npy``, ``.npz`` or ``.csv`` files, checked before training."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from gankit.errors import DataError

VECTOR_SUFFIXES = (".npy", ".npz", ".csv")
_NPZ_KEYS = ("x", "data", "samples", "X")
_LABEL_KEYS = ("labels", "y")


def load_vectors(path: str | Path) -> np.ndarray:
    """Read an (n, d) float array from a .npy, .npz or .csv file, or raise a one-line DataError."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {str(path)!r} not found; give a built-in name or a file path")
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise DataError(
            f"data file {str(path)!r} has an unsupported type; use one of "
            + ", ".join(VECTOR_SUFFIXES)
        )
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            array = _read_npz(path)
        else:
            array = _read_csv(path)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"cannot read data file {str(path)!r}: {reason}") from None
    return check_vectors(array, str(path))


def load_labels(path: str | Path, count: int) -> tuple[np.ndarray, list[str]] | None:
    """The class of each of ``count`` vectors, from an .npz file's ``labels`` (or ``y``) array:
    (indices 0..K-1, class names: the sorted values as text); None when the file has none."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        return None
    with np.load(path, allow_pickle=False) as archive:
        key = next((k for k in _LABEL_KEYS if k in archive), None)
        if key is None:
            return None
        labels = archive[key]
    if labels.shape != (count,):
        raise DataError(
            f"data file {str(path)!r}: '{key}' has shape {labels.shape}, and the vectors are "
            f"{count}; give one label per vector"
        )
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        raise DataError(f"data file {str(path)!r}: '{key}' has NaN; give every vector a class")
    values, indices = np.unique(labels, return_inverse=True)
    return indices.astype(np.int64), [str(v.item() if hasattr(v, "item") else v) for v in values]


def _read_npz(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.keys())
        if len(keys) == 1:
            return archive[keys[0]]
        for key in _NPZ_KEYS:
            if key in archive:
                return archive[key]
    raise DataError(
        f"data file {str(path)!r} holds arrays {keys}; store the vectors under "
        "one of " + ", ".join(_NPZ_KEYS)
    )


def _read_csv(path: Path) -> np.ndarray:
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    if rows and not _is_numeric_row(rows[0]):
        rows = rows[1:]  # a header line
    values = []
    for line, row in enumerate(rows, start=1):
        if len(row) != len(rows[0]):
            raise DataError(
                f"data file {str(path)!r}: row {line} has {len(row)} columns, "
                f"the first has {len(rows[0])}; every row needs the same columns"
            )
        try:
            values.append([float(cell) for cell in row])
        except ValueError:
            raise DataError(
                f"data file {str(path)!r}: row {line} has a non-numeric value; "
                "keep only numeric columns"
            ) from None
    return np.asarray(values, dtype=np.float64).reshape(len(values), -1)


def _is_numeric_row(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def check_vectors(array: np.ndarray, source: str) -> np.ndarray:
    """Return ``array`` as (n, d) float32, or raise a DataError that says what is wrong."""
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise DataError(f"data in {source!r} is not numeric (dtype {array.dtype})")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(f"data in {source!r} has shape {array.shape}; vectors need shape (n, d)")
    if array.shape[0] < 2 or array.shape[1] < 1:
        raise DataError(
            f"data in {source!r} has shape {array.shape}; it needs at least 2 rows and 1 column"
        )
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise DataError(
            f"data in {source!r} has NaN or Inf (first in row {row}); remove or impute those values"
        )
    too_large = np.abs(array) > np.finfo(np.float32).max  # would become Inf in float32
    if too_large.any():
        row = int(np.argwhere(too_large)[0, 0])
        raise DataError(
            f"data in {source!r} has values beyond float32's range, about 3.4e38 (first in "
            f"row {row}); rescale them"
        )
    return array.astype(np.float32)
