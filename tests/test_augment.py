"""Differentiable augmentation: shapes, value ranges, gradients, and the adaptive p."""

import pytest
import torch

from gankit.config import AugmentConfig
from gankit.diffaugment import (
    POLICIES,
    Augment,
    brightness,
    contrast,
    cutout,
    saturation,
    translation,
)


def images(n: int = 6, channels: int = 3, size: int = 16) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("function", [brightness, saturation, contrast, translation, cutout])
def test_every_augmentation_keeps_the_shape_and_is_differentiable(function) -> None:
    x = images().requires_grad_(True)
    y = function(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    (gradient,) = torch.autograd.grad(y.square().sum(), x)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0


def test_colour_changes_stay_within_their_stated_ranges() -> None:
    x = images()
    rng = torch.Generator().manual_seed(0)
    shift = brightness(x, rng) - x  # one offset per image, in [-0.5, 0.5)
    assert (shift.amax((1, 2, 3)) - shift.amin((1, 2, 3))).abs().max() < 1e-6
    assert shift.abs().max() <= 0.5
    scaled = contrast(x, rng)  # mean kept, deviations scaled by [0.5, 1.5)
    assert torch.allclose(scaled.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)
    ratio = (scaled - scaled.mean((1, 2, 3), keepdim=True)) / (x - x.mean((1, 2, 3), keepdim=True))
    assert ratio.min() >= 0.5 - 1e-4 and ratio.max() < 1.5 + 1e-4
    saturated = saturation(x, rng)  # each pixel's mean over channels kept
    assert torch.allclose(saturated.mean(1), x.mean(1), atol=1e-5)
    assert saturation(x[:, :1], rng).equal(x[:, :1])  # grey images have no saturation


def test_translation_and_cutout_keep_values_in_range() -> None:
    x = images(n=32, channels=1, size=8)
    rng = torch.Generator().manual_seed(0)
    shifted = translation(x, rng)
    assert shifted.min() >= -1 and shifted.max() <= 1
    # each value is an input pixel of the same image, or the 0 shifted in at a border
    for before, after in zip(x, shifted, strict=True):
        assert set(after.unique().tolist()) <= set(before.unique().tolist()) | {0.0}
    assert not shifted.equal(x)
    cut = cutout(torch.ones(32, 1, 8, 8), rng)  # a square of up to 4x4 zeros per image
    zeros = (cut == 0).sum((1, 2, 3))
    assert set(cut.unique().tolist()) <= {0.0, 1.0}
    assert zeros.max() == 16 and zeros.min() >= 4


def test_policies_and_probability() -> None:
    assert set(POLICIES) == {"color", "translation", "cutout"}
    x = images()
    never = Augment(AugmentConfig(policy=["color", "translation", "cutout"], p=0.0), 64)
    assert never(x, torch.Generator().manual_seed(0)).equal(x)
    always = Augment(AugmentConfig(policy=["translation"], p=1.0), 64)
    half = Augment(AugmentConfig(policy=["color"], p=0.5), 64)
    changed = (half(images(n=400), torch.Generator().manual_seed(0)) != images(n=400)).flatten(1)
    # each of color's 3 functions applies on its own: an image is left alone with p 0.5^3
    assert 0.8 < changed.any(1).float().mean() < 0.95
    assert always(x, torch.Generator().manual_seed(3)).equal(
        always(x, torch.Generator().manual_seed(3))
    )


def test_each_image_can_have_its_own_probability() -> None:
    """A population that shares its draws augments all members' images at once, each image
    with its member's p: p = 0 leaves an image alone, p = 1 always augments it."""
    augment = Augment(AugmentConfig(policy=["color", "translation", "cutout"], p=0.5), 64)
    x = images(n=400)
    p = torch.tensor([0.0, 1.0]).repeat(200)
    out = augment(x, torch.Generator().manual_seed(0), p)
    assert out[p == 0].equal(x[p == 0])
    assert (out[p == 1] != x[p == 1]).flatten(1).any(1).all()


def test_adaptive_p_rises_when_d_is_sure_of_real_images_and_falls_when_not() -> None:
    settings = AugmentConfig(policy=["translation"], p=0.0, adaptive=True, interval=4, ada_kimg=1)
    augment = Augment(settings, batch_size=50)  # p moves 50 * 4 / 1000 = 0.2 per interval
    for _ in range(8):
        augment.observe(torch.tensor(1.0))  # every logit positive: r_t = 1 > 0.6
    assert augment.r_t == 1.0
    assert augment.p == pytest.approx(0.4)
    state = augment.state_dict()
    for _ in range(12):
        augment.observe(torch.tensor(0.0))  # half positive: r_t = 0 < 0.6
    assert augment.r_t == 0.0
    assert augment.p == 0.0  # clipped at 0
    augment.load_state_dict(state)
    assert augment.p == pytest.approx(0.4)
