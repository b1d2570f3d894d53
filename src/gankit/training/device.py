"""Where training runs and at which precision: the ``device`` and ``precision`` settings.

``bf16`` on the CPU is refused rather than quietly run in fp32: the run folder's config
must say what actually ran, and CPU autocast would be slower than fp32 for these networks.
"""

from __future__ import annotations

import contextlib

import torch

from gankit.errors import GankitError


def resolve_device(name: str, precision: str) -> torch.device:
    """``auto`` is CUDA when PyTorch sees a GPU, else the CPU; ``cuda`` without one is refused."""
    has_cuda = torch.cuda.is_available()
    if name == "cuda" and not has_cuda:
        raise GankitError(
            "device=cuda, but PyTorch sees no CUDA device (a CPU build of torch, or no GPU); "
            "use device=cpu or device=auto"
        )
    device = torch.device("cuda" if name == "cuda" or (name == "auto" and has_cuda) else "cpu")
    if precision == "bf16" and device.type != "cuda":
        raise GankitError(
            "precision=bf16 needs a CUDA device, and this run is on the CPU; use precision=fp32"
        )
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise GankitError("precision=bf16: this GPU has no bfloat16 support; use precision=fp32")
    return device


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast of the forward passes on CUDA; under fp32 it changes nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
