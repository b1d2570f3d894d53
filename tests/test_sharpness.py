"""The variance of the Laplacian: hand-computed values, an independent scipy check, blur. The
high-frequency share: patterns whose spectrum is known, an independent numpy check, blur."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from gankit.config import load_config
from gankit.data import load_data
from gankit.errors import GankitError
from gankit.metrics import high_frequency_share, laplacian_variance
from gankit.metrics.sharpness import sharpness_scores


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


def sinusoid(height: int, width: int, fy: float, fx: float) -> torch.Tensor:
    """cos(2 pi (fy y + fx x)), frequencies in cycles per pixel: one image (1, 1, H, W)."""
    rows, columns = torch.meshgrid(
        torch.arange(height, dtype=torch.float64),
        torch.arange(width, dtype=torch.float64),
        indexing="ij",
    )
    return torch.cos(2 * torch.pi * (fy * rows + fx * columns))[None, None]


def test_high_frequency_share_of_known_spectra() -> None:
    # The checkerboard's energy sits at the corner (0.5, 0.5) of the spectrum: all above.
    assert high_frequency_share(checkerboard(8)[None, None]).item() == pytest.approx(1)
    # So does a stripe pattern at Nyquist along one axis (+-1 alternating columns).
    stripes = checkerboard(8)[:1].expand(8, 8)
    assert high_frequency_share(stripes[None, None]).item() == pytest.approx(1)
    # Smooth images keep their energy low: a slow sinusoid and a wide Gaussian blob.
    assert high_frequency_share(sinusoid(28, 28, 1 / 28, 2 / 28)).item() < 1e-9
    rows, columns = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    blob = torch.exp(-((rows - 13.5) ** 2 + (columns - 13.5) ** 2) / 50) * 2 - 1
    assert high_frequency_share(blob[None, None]).item() < 1e-3
    # A linear ramp is smooth too, but the DFT sees it periodically: the jump where it wraps
    # leaves a few percent above the cut.
    assert high_frequency_share((columns / 27 * 2 - 1)[None, None]).item() < 0.1
    # White noise spreads its energy evenly: the area outside the circle, 1 - pi / 16.
    noise = torch.randn(50, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    assert high_frequency_share(noise).mean().item() == pytest.approx(1 - torch.pi / 16, abs=0.01)


@pytest.mark.parametrize(
    ("fy", "fx", "share"),
    [
        (0, 8 / 40, 0),  # 0.2 cycles/pixel along x: below
        (0, 10 / 40, 0),  # exactly 0.25: the cut is strict, so low
        (0, 12 / 40, 1),  # 0.3: above
        (8 / 40, 0, 0),  # along y alike
        (12 / 40, 0, 1),
        (8 / 40, 8 / 40, 1),  # 0.2 on each axis, but radially 0.28: above
        (6 / 40, 7 / 40, 0),  # radially 0.23: below
    ],
)
def test_a_sinusoid_lands_on_its_side_of_the_cut(fy: float, fx: float, share: float) -> None:
    images = torch.cat([sinusoid(40, 40, fy, fx), 0.3 * sinusoid(40, 40, fy, fx)])
    np.testing.assert_allclose(high_frequency_share(images).numpy(), [share, share], atol=1e-6)


def test_high_frequency_share_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(4, 3, 9, 7))
    expected = []
    for image in images:
        shares = []
        for channel in image:
            energy = np.abs(np.fft.fft2(channel - channel.mean())) ** 2
            fy, fx = np.meshgrid(np.fft.fftfreq(9), np.fft.fftfreq(7), indexing="ij")
            shares.append(energy[np.hypot(fy, fx) > 0.25].sum() / energy.sum())
        expected.append(np.mean(shares))
    got = high_frequency_share(torch.from_numpy(images))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


def test_high_frequency_share_of_constant_channels_is_zero() -> None:
    images = torch.full((3, 2, 8, 8), 0.37)
    images[1, 1] = checkerboard(8)  # the constant channel counts as 0 in the channel mean
    got = high_frequency_share(images)
    assert not got.isnan().any()
    np.testing.assert_allclose(got.numpy(), [0, 0.5, 0], atol=1e-6)


def test_blurred_digits_have_a_lower_high_frequency_share() -> None:
    images = load_data(load_config(overrides=["data=digits"])).heldout_images[:50]
    box = torch.full((1, 1, 3, 3), 1 / 9)
    box_blurred = F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), box)
    coarse = F.interpolate(F.avg_pool2d(images, 2), scale_factor=2, mode="bilinear")
    sharp = high_frequency_share(images)
    assert sharp.shape == (50,)
    assert (high_frequency_share(box_blurred) < sharp).all()
    assert (high_frequency_share(coarse) < sharp).all()
    # A ratio of energies: fainter (or bolder) images score the same.
    torch.testing.assert_close(high_frequency_share(0.5 * images), sharp)


def test_high_frequency_share_refuses_bad_shapes() -> None:
    with pytest.raises(GankitError, match="H, W >= 2"):
        high_frequency_share(torch.zeros(2, 1, 1, 8))
    with pytest.raises(GankitError, match=r"high_frequency_share takes images \(n, C, H, W\)"):
        high_frequency_share(torch.zeros(8, 8))


def test_sharpness_scores_are_the_means_of_clamped_images() -> None:
    images = 3 * torch.stack([checkerboard(8), torch.zeros(8, 8)])[:, None]  # clamped to +-1
    assert sharpness_scores(images) == pytest.approx({"sharpness": 32, "high_frequency": 0.5})
