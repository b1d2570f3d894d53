"""The noise prior p_z that G maps to samples."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.config import NoiseConfig


def sample_prior(
    n: int,
    noise: NoiseConfig,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """z ~ p_z, shape (n, noise.dim): N(0, I) or U(-1, 1)^dim, on ``generator``'s device."""
    shape = (n, noise.dim)
    device = device if device is not None else (generator.device if generator else None)
    if noise.prior == "uniform":
        return torch.rand(shape, generator=generator, device=device) * 2 - 1
    return torch.randn(shape, generator=generator, device=device)
