"""S MLPs of one architecture as one module: every layer a batched matrix product over members.

A population of small GANs (:mod:`gankit.training.population`) spends its time on kernel
launches and Python, not arithmetic, when each member runs alone. Stacked, member s's linear
layer is ``x_s W_s^T + b_s`` for all s at once (``torch.baddbmm`` over (S, n, in) inputs),
and its batch norm normalises each member's batch with that member's own statistics, so a
member computes exactly what it computes alone, up to the rounding of batched kernels.

All members' parameters live in one (S, P) tensor, ``flat``, each layer's weight a view of it,
so an optimizer steps every member in a few elementwise operations on ``flat`` and its
gradient; the batch-norm running statistics live likewise in ``buffers`` (S, B). ``load`` and
``store`` copy a member's own module to and from its row, by the member's parameter names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.nets.pack import PackedDiscriminator


@dataclass(frozen=True)
class Slot:
    """Where one of a member's tensors, by its name in the member, sits in a row of a flat
    (S, size) tensor."""

    name: str
    start: int
    shape: tuple[int, ...]

    def view(self, flat: Tensor) -> Tensor:
        """The (S, *shape) view of every member's copy of this tensor."""
        size = math.prod(self.shape)
        return flat[:, self.start : self.start + size].view(len(flat), *self.shape)


class StackedMLP(nn.Module):
    """The members' MLP G (or D) stacked: inputs (S, n, in) to outputs (S, n, out), or D's
    logits (S, n / pack)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        first = members[0]
        self.pack = first.pack if isinstance(first, PackedDiscriminator) else 1
        inner = first.discriminator if isinstance(first, PackedDiscriminator) else first
        if not isinstance(inner, MLPGenerator | MLPDiscriminator):
            raise GankitError(
                f"population training stacks MLP networks, not {type(inner).__name__}; "
                "use model=mlp, or train these runs one at a time"
            )
        self.logits = isinstance(inner, MLPDiscriminator)
        # A conditional MLP takes its class one-hot beside its input (nets/mlp.py, nets/pack.py).
        self.num_classes = getattr(first, "num_classes", 0)
        prefix = {id(m): n for n, m in first.named_modules()}
        self.param_slots: list[Slot] = []
        self.buffer_slots: list[Slot] = []
        self.counter_names: list[str] = []
        # (kind, the first member's layer, its slots, its column of ``counters``)
        self.layers: list[tuple[str, nn.Module, tuple[Slot, ...], int]] = []
        for layer in inner.net:
            name = prefix[id(layer)]
            if isinstance(layer, nn.Linear):
                slots = (
                    self._slot(self.param_slots, f"{name}.weight", layer.weight.shape),
                    self._slot(self.param_slots, f"{name}.bias", layer.bias.shape),
                )
                self.layers.append(("linear", layer, slots, -1))
            elif isinstance(layer, nn.BatchNorm1d):
                slots = (
                    self._slot(self.param_slots, f"{name}.weight", layer.weight.shape),
                    self._slot(self.param_slots, f"{name}.bias", layer.bias.shape),
                    self._slot(self.buffer_slots, f"{name}.running_mean", layer.running_mean.shape),
                    self._slot(self.buffer_slots, f"{name}.running_var", layer.running_var.shape),
                )
                self.counter_names.append(f"{name}.num_batches_tracked")
                self.layers.append(("batch_norm", layer, slots, len(self.counter_names) - 1))
            elif sum(1 for _ in layer.parameters()) == 0:
                self.layers.append(("elementwise", layer, (), -1))  # an activation
            else:
                raise GankitError(f"population training cannot stack a {type(layer).__name__}")
        named = [name for name, _ in first.named_parameters()]
        if sorted(named) != sorted(slot.name for slot in self.param_slots):
            raise GankitError(
                f"population training stacks plain MLPs; this {type(inner).__name__} has "
                "parameters outside its layers (conditioning?); train these runs one at a time"
            )
        count = len(members)
        device = next(first.parameters()).device
        self.flat = nn.Parameter(torch.zeros(count, _size(self.param_slots), device=device))
        self.register_buffer("buffers_flat", torch.zeros(count, _size(self.buffer_slots)))
        self.register_buffer(
            "counters", torch.zeros(count, len(self.counter_names), dtype=torch.long)
        )
        # Each layer's tensors as leaves that share the storage of ``flat``: updating ``flat``
        # updates them, and their gradients are separate (a view of ``flat`` itself would
        # make autograd fill a zero (S, P) tensor per layer and backward).
        self.leaves = {
            slot.name: slot.view(self.flat.detach()).requires_grad_() for slot in self.param_slots
        }
        self.load(members)

    def flat_gradient(self) -> Tensor:
        """The gradient of ``flat`` from the layers' gradients after a backward pass."""
        return torch.cat([self.leaves[slot.name].grad.flatten(1) for slot in self.param_slots], 1)

    def zero_grad(self) -> None:
        for leaf in self.leaves.values():
            leaf.grad = None

    @staticmethod
    def _slot(slots: list[Slot], name: str, shape: torch.Size) -> Slot:
        start = slots[-1].start + math.prod(slots[-1].shape) if slots else 0
        slots.append(Slot(name, start, tuple(shape)))
        return slots[-1]

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Each member's G(z) or D(x) (with its classes ``labels``, (S, n), when conditional)."""
        if self.num_classes:
            x = torch.cat([x, F.one_hot(labels, self.num_classes).to(x.dtype)], dim=2)
        members, n = x.shape[:2]
        if self.pack > 1:  # PacGAN: D judges pack samples at once, concatenated
            x = x.reshape(members, n // self.pack, -1)
        for kind, layer, slots, column in self.layers:
            if kind == "linear":
                weight, bias = (self.leaves[slot.name] for slot in slots)
                x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))  # x W^T + b
            elif kind == "batch_norm":
                x = self._batch_norm(x, layer, slots, column)
            else:
                x = layer(x)
        return x.squeeze(-1) if self.logits else x

    def _batch_norm(
        self, x: Tensor, layer: nn.BatchNorm1d, slots: tuple[Slot, ...], column: int
    ) -> Tensor:
        """Training-mode batch norm of each member's batch with its own statistics.

        The members' channels side by side, (n, S * C), are what nn.BatchNorm1d sees of one
        member, (n, C), with more channels: the same kernel reduces each channel alike, so a
        member's batch norm rounds as it does alone (batch norm amplifies rounding in G).
        """
        members, n, channels = x.shape
        weight, bias = (self.leaves[slot.name].reshape(-1) for slot in slots[:2])
        running = [slot.view(self.buffers_flat) for slot in slots[2:]]
        mean, var = (statistic.reshape(-1).clone() for statistic in running)
        wide = x.transpose(0, 1).reshape(n, members * channels)
        y = F.batch_norm(wide, mean, var, weight, bias, True, layer.momentum, layer.eps)
        with torch.no_grad():
            for statistic, updated in zip(running, (mean, var), strict=True):
                statistic.copy_(updated.view(members, channels))
            self.counters[:, column] += 1
        return y.view(n, members, channels).transpose(0, 1)

    @torch.no_grad()
    def load(self, members: Sequence[nn.Module], rows: Sequence[int] | None = None) -> None:
        """Copy each member's parameters and batch-norm statistics into its row."""
        for row, member in zip(rows or range(len(members)), members, strict=True):
            self.load_row(row, member, self.flat, self.buffers_flat, self.counters)

    @torch.no_grad()
    def load_row(
        self, row: int, member: nn.Module, flat: Tensor, buffers: Tensor, counters: Tensor
    ) -> None:
        """Copy ``member``'s tensors into row ``row`` of ``flat``, ``buffers`` and ``counters``
        (this stack's own, or another tensor of its layout, such as an EMA copy)."""
        params, named_buffers = dict(member.named_parameters()), dict(member.named_buffers())
        for slot in self.param_slots:
            slot.view(flat)[row].copy_(params[slot.name])
        for slot in self.buffer_slots:
            slot.view(buffers)[row].copy_(named_buffers[slot.name])
        for column, name in enumerate(self.counter_names):
            counters[row, column] = named_buffers[name]

    @torch.no_grad()
    def store_row(
        self, row: int, member: nn.Module, flat: Tensor, buffers: Tensor, counters: Tensor
    ) -> None:
        """Copy row ``row`` back into ``member``'s own tensors, in place."""
        params, named_buffers = dict(member.named_parameters()), dict(member.named_buffers())
        for slot in self.param_slots:
            params[slot.name].copy_(slot.view(flat)[row])
        for slot in self.buffer_slots:
            named_buffers[slot.name].copy_(slot.view(buffers)[row])
        for column, name in enumerate(self.counter_names):
            named_buffers[name].fill_(counters[row, column])


def _size(slots: list[Slot]) -> int:
    return slots[-1].start + math.prod(slots[-1].shape) if slots else 0
