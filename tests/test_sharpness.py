"""The variance of the Laplacian: hand-computed values, an independent scipy check, blur."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from gankit.config import load_config
from gankit.data import load_data
from gankit.errors import GankitError
from gankit.metrics import laplacian_variance


def checkerboard(size: int) -> torch.Tensor:
    rows, columns = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return ((rows + columns) % 2 * 2 - 1).float()  # alternating -1, +1


def test_constant_images_score_zero() -> None:
    images = torch.full((3, 2, 8, 8), 0.37)
    assert torch.equal(laplacian_variance(images), torch.zeros(3))


def test_hand_computed_values() -> None:
    # Checkerboard: every neighbour is -v, so the response is 4 (-v) - 4 v = -8 v = +-8,
    # half of each: variance 64. Averaged with a constant channel (variance 0): 32.
    board = checkerboard(8)
    assert laplacian_variance(board[None, None]).item() == pytest.approx(64)
    two_channels = torch.stack([board, torch.zeros(8, 8)])[None]
    assert laplacian_variance(two_channels).item() == pytest.approx(32)
    # One bright pixel in a 5x5 image: the 3x3 interior responds -4 at the centre, +1 at its
    # four neighbours, 0 at the corners; mean 0, variance (16 + 4) / 9.
    impulse = torch.zeros(1, 1, 5, 5)
    impulse[0, 0, 2, 2] = 1
    assert laplacian_variance(impulse).item() == pytest.approx(20 / 9)


def test_matches_scipy_on_the_interior() -> None:
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(4, 3, 9, 7))
    expected = [
        np.mean([ndimage.laplace(channel)[1:-1, 1:-1].var() for channel in image])
        for image in images
    ]
    got = laplacian_variance(torch.from_numpy(images))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


def test_blurred_digits_score_lower() -> None:
    images = load_data(load_config(overrides=["data=digits"])).heldout_images[:50]
    box = torch.full((1, 1, 3, 3), 1 / 9)
    blurred = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), box)
    sharp, soft = laplacian_variance(images), laplacian_variance(blurred)
    assert sharp.shape == (50,)
    assert (soft < sharp).all()


def test_images_too_small_or_not_four_dimensional_are_refused() -> None:
    with pytest.raises(GankitError, match="H, W >= 3"):
        laplacian_variance(torch.zeros(2, 1, 2, 8))
    with pytest.raises(GankitError, match=r"\(n, C, H, W\)"):
        laplacian_variance(torch.zeros(8, 8))
