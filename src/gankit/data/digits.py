"""``digits``: scikit-learn's 1,797 handwritten digits, 8x8 grey, values 0..16, 10 classes.

Shipped inside scikit-learn (the UCI optical recognition test set), so nothing is downloaded.
"""

from __future__ import annotations

from sklearn import datasets

from gankit.data.image_files import RawImages


def load_digits() -> RawImages:
    """The digits as (8, 8, 1) images in 0..16 (white ink on black), labelled 0-9."""
    bunch = datasets.load_digits()
    images = list(bunch.images[..., None].astype("float32"))
    return RawImages(images, bunch.target, [str(digit) for digit in range(10)], (0.0, 16.0))
