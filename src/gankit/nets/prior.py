"""The noise prior p_z that G maps to samples."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.config import NoiseConfig


def sample_prior(n: int, noise: NoiseConfig, generator: torch.Generator | None = None) -> Tensor:
    """z ~ p_z, shape (n, noise.dim): N(0, I) or U(-1, 1)^dim."""
    shape = (n, noise.dim)
    if noise.prior == "uniform":
        return torch.rand(shape, generator=generator) * 2 - 1
    return torch.randn(shape, generator=generator)
