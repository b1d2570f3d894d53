"""An exponential moving average of G's weights, the copy that is sampled and evaluated."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """theta_ema <- decay * theta_ema + (1 - decay) * theta after every G step.

    Buffers (batch-norm statistics) are copied, not averaged. One fused ``foreach`` call per
    update: torch's AveragedModel does the same maths but costs ~10x more per step here.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).requires_grad_(False)
        self._params = list(self.module.parameters())
        self._buffers = list(self.module.buffers())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        torch._foreach_lerp_(self._params, list(model.parameters()), 1 - self.decay)
        if self._buffers:  # a G without batch norm has none, and foreach refuses empty lists
            torch._foreach_copy_(self._buffers, list(model.buffers()))
