"""Sharpness of images: the variance of the Laplacian (Pech-Pacheco et al. 2000), the
standard blur measure, and the share of spectral energy at high frequencies. Blur removes high
frequencies, which the Laplacian responds to, so a blurred image scores lower than the
original on both; a constant image scores 0 on both. The Laplacian's variance follows the
pixels' contrast; the high-frequency share does not (it is a ratio of energies), so a faint
but sharp image and a bold blurred one are told apart."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import GankitError

# The 4-neighbour 3x3 Laplacian, d2/dx2 + d2/dy2 by central differences (as OpenCV's
# cv2.Laplacian with ksize=1).
LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_variance(images: Tensor) -> Tensor:
    """Per image, the variance of its Laplacian response, averaged over channels: shape (n,).

    ``images`` (n, C, H, W) in [-1, 1], H and W at least 3. The kernel is the 4-neighbour
    [[0, 1, 0], [1, -4, 1], [0, 1, 0]], applied without padding, so the border pixels (which
    lack a neighbour) are excluded: the variance (population, dividing by the count) is over
    the (H - 2) x (W - 2) interior responses of each channel. The scale follows the pixel
    range: an alternating +-1 checkerboard responds +-8 everywhere and scores 64.
    """
    if images.dim() != 4 or min(images.shape[2:]) < 3:
        raise GankitError(
            f"laplacian_variance takes images (n, C, H, W) with H, W >= 3; got shape "
            f"{tuple(images.shape)}"
        )
    n, channels = images.shape[:2]
    planes = images.float().reshape(n * channels, 1, *images.shape[2:])
    kernel = LAPLACIAN.to(planes.device)[None, None]
    response = F.conv2d(planes, kernel)  # cross-correlation; the kernel is symmetric
    return response.flatten(1).var(1, correction=0).view(n, channels).mean(1)


HIGH_FREQUENCY_CUT = 0.25
"""Half the Nyquist frequency, in cycles per pixel: the radial frequency above which spectral
energy counts as high."""


def high_frequency_share(images: Tensor) -> Tensor:
    """Per image, the share of its spectral energy above half the Nyquist frequency, averaged
    over channels: shape (n,), each in [0, 1].

    ``images`` (n, C, H, W), H and W at least 2. For each channel x (H x W), with its mean
    removed, E(fy, fx) = |DFT(x - mean x)|^2 (``torch.fft.fft2``, the whole periodic
    spectrum), with fy = k / H and fx = l / W in cycles per pixel, each in [-0.5, 0.5)
    (``torch.fft.fftfreq``). The share is

        sum of E over sqrt(fx^2 + fy^2) > 0.25  /  sum of E over all (fy, fx),

    strictly above (a frequency of exactly 0.25 counts as low), and 0 for a constant channel
    (no energy at all, rather than 0 / 0). An alternating +-1 checkerboard has all its energy
    at fy = fx = -0.5, radius 0.71: share 1. A sinusoid of one
    frequency puts all of it at +-(fy, fx): share 1 above the cut, 0 below (when the
    frequency falls on the grid: k / H, l / W, else a little leaks into neighbouring bins).
    White noise, with a flat spectrum, scores the share of the frequency square outside the
    circle of radius 0.25, 1 - pi / 16 = 0.80: far more than real images (about 0.33 for the
    8x8 digits, 0.11 for MNIST), so sharper is only better up to the real images' value.
    Computed in float64; a ratio of energies, so it does not depend on the pixels' scale.
    """
    if images.dim() != 4 or min(images.shape[2:]) < 2:
        raise GankitError(
            f"high_frequency_share takes images (n, C, H, W) with H, W >= 2; got shape "
            f"{tuple(images.shape)}"
        )
    planes = images.double().flatten(2)  # (n, C, H * W)
    constant = planes.amax(2) == planes.amin(2)
    planes = (planes - planes.mean(2, keepdim=True)).view(images.shape)
    energy = torch.fft.fft2(planes).abs().square()
    height, width = images.shape[2:]
    fy = torch.fft.fftfreq(height, dtype=torch.float64, device=images.device)
    fx = torch.fft.fftfreq(width, dtype=torch.float64, device=images.device)
    high = (fy[:, None].square() + fx[None, :].square()).sqrt() > HIGH_FREQUENCY_CUT
    total = energy.sum(dim=(2, 3))
    above = (energy * high).sum(dim=(2, 3))
    # A constant channel has no energy (or only rounding's): 0, never 0 / 0. Any other has
    # total > 0 by Parseval.
    share = torch.where(constant, torch.zeros_like(total), above / total.clamp_min(1e-300))
    return share.mean(1).float()


def sharpness_scores(images: Tensor) -> dict[str, float]:
    """The mean of each sharpness measure over ``images`` (n, C, H, W), clamped to [-1, 1]
    first (as pictures show them): ``sharpness``, the variance of the Laplacian, and
    ``high_frequency``, the high-frequency share. How generated and real images are scored
    alike by ``gankit augment``'s cells and benchmarks/gan_vs_vae.py."""
    clamped = images.clamp(-1, 1)
    return {
        "sharpness": float(laplacian_variance(clamped).mean()),
        "high_frequency": float(high_frequency_share(clamped).mean()),
    }
