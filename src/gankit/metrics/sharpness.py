"""Sharpness of images: the variance of the Laplacian (Pech-Pacheco et al. 2000), the
standard blur measure. Blur removes high frequencies, which the Laplacian responds to, so a
blurred image scores lower than the original; a constant image scores 0."""

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
