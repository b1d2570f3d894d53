"""Differentiable augmentation of everything D sees, real and fake alike (DiffAugment:
Zhao et al. 2020), and the adaptive rule that sets how often it is applied (ADA: Karras et
al. 2020).

Each augmentation is a small pure function of a batch (n, C, H, W) in [-1, 1] and a seeded
``torch.Generator``, differentiable in the images, so that G learns through it. A policy
name picks a few of them (:data:`POLICIES`). Because D only ever sees augmented images, and
G's samples are augmented the same way, G is not pushed to reproduce the augmentations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import AugmentConfig

Augmentation = Callable[[Tensor, torch.Generator | None], Tensor]


def _uniform(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """One U(0, 1) number per image, shaped to broadcast over (C, H, W)."""
    return torch.rand(len(x), 1, 1, 1, generator=generator, dtype=x.dtype, device=x.device)


def brightness(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Add one offset in [-0.5, 0.5) to every pixel of an image."""
    return x + (_uniform(x, generator) - 0.5)


def saturation(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Scale each pixel's deviation from its mean over channels by a factor in [0, 2)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x, generator) * 2) + mean


def contrast(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Scale the image's deviation from its mean by a factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, generator) + 0.5) + mean


def translation(
    x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.125
) -> Tensor:
    """Shift each image by up to ``ratio`` of its size along each axis, filling with 0."""
    n, _, height, width = x.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    device = x.device
    dy = torch.randint(-shift_y, shift_y + 1, (n, 1, 1), generator=generator, device=device)
    dx = torch.randint(-shift_x, shift_x + 1, (n, 1, 1), generator=generator, device=device)
    rows = (torch.arange(height, device=device)[None, :, None] + dy + 1).clamp(0, height + 1)
    cols = (torch.arange(width, device=device)[None, None, :] + dx + 1).clamp(0, width + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # a border of zeros to shift in
    images = torch.arange(n, device=device)[:, None, None]
    return padded[images, rows, cols].permute(0, 3, 1, 2)


def cutout(x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> Tensor:
    """Set a square of ``ratio`` of the image's size, at a random centre, to 0."""
    n, _, height, width = x.shape
    cut_y, cut_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    device = x.device
    centre_y = torch.randint(
        0, height + (1 - cut_y % 2), (n, 1, 1), generator=generator, device=device
    )
    centre_x = torch.randint(
        0, width + (1 - cut_x % 2), (n, 1, 1), generator=generator, device=device
    )
    rows = torch.arange(height, device=device)[None, :, None] - (centre_y - cut_y // 2)
    cols = torch.arange(width, device=device)[None, None, :] - (centre_x - cut_x // 2)
    inside = (rows >= 0) & (rows < cut_y) & (cols >= 0) & (cols < cut_x)
    return x * (~inside)[:, None].to(x.dtype)


POLICIES: dict[str, tuple[Augmentation, ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


class Augment:
    """The configured policy, each function applied to each image with probability ``p``.

    With ``adaptive``, :meth:`observe` takes E[sign(logit D(x))] of each batch of real
    images, and every ``interval`` D steps p moves by ``batch * interval / (ada_kimg * 1000)``:
    up when the overfitting heuristic r_t, their mean over the interval, is above ``target``
    (D is too sure of the real images), down when below, within [0, 1] (ADA, Karras et al.
    2020, section 3).
    """

    def __init__(self, settings: AugmentConfig, batch_size: int) -> None:
        self.settings = settings
        self.functions = [function for name in settings.policy for function in POLICIES[name]]
        self.p = settings.p
        self.adaptive = settings.adaptive
        self.step_size = batch_size * settings.interval / (settings.ada_kimg * 1000)
        self._sign_sum: Tensor | float = 0.0
        self._observed = 0
        self.r_t: float | None = None

    def __call__(
        self, x: Tensor, generator: torch.Generator | None = None, p: Tensor | None = None
    ) -> Tensor:
        """x augmented by the policy, each function applied to each image with probability
        ``self.p``, or with its own probability ``p[i]`` when given (the images of a
        population's members, each with its member's p)."""
        for function in self.functions:
            if p is not None:
                chosen = torch.rand(len(x), generator=generator, device=x.device) < p
                x = torch.where(chosen[:, None, None, None], function(x, generator), x)
            elif self.p >= 1:
                x = function(x, generator)
            elif self.p > 0:
                chosen = torch.rand(len(x), generator=generator, device=x.device) < self.p
                x = torch.where(chosen[:, None, None, None], function(x, generator), x)
        return x

    @torch.no_grad()
    def observe(self, real_sign: Tensor) -> None:
        """Take in E[sign(logit D(x))] over a batch of real images; adjust p every interval."""
        self._sign_sum = self._sign_sum + real_sign.detach()
        self._observed += 1
        if self._observed % self.settings.interval:
            return
        self.r_t = float(self._sign_sum) / self.settings.interval  # r_t = E[sign(logit D(x))]
        direction = 1.0 if self.r_t > self.settings.target else -1.0
        self.p = min(1.0, max(0.0, self.p + direction * self.step_size))
        self._sign_sum = 0.0

    def state_dict(self) -> dict[str, Any]:
        """p and the ADA rule's running sums, for a checkpoint."""
        return {
            "p": self.p,
            "sign_sum": float(self._sign_sum),
            "observed": self._observed,
            "r_t": self.r_t,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p, self._sign_sum = float(state["p"]), float(state["sign_sum"])
        self._observed, self.r_t = int(state["observed"]), state["r_t"]
