"""S networks of one architecture as one module, so that one pass runs every member.

A population of small GANs (:mod:`gankit.training.population`) spends its time on kernel
launches and Python, not arithmetic, when each member runs alone. Stacked, member s's linear
layer is ``x_s W_s^T + b_s`` for all s at once (``torch.baddbmm`` over (S, n, in) inputs),
its convolutions one grouped convolution over the members' channels side by side
(``groups=S``; on a CPU, where that measured slower, the members' convolutions in turn), and
its batch norm normalises each member's batch with that member's own statistics, so a member
computes exactly what it computes alone, up to the rounding of batched kernels. The table nets'
dropout masks and Gumbel noise, which a single run draws from torch's global stream, each
member draws from its own (:attr:`Stacked.streams`), in the order its single run draws them,
or all members at once from :attr:`Stacked.shared_stream` when one is set.

All members' parameters live in one (S, P) tensor, ``flat``, each of a member's tensors a
view of it, so an optimizer steps every member in a few elementwise operations on ``flat``
and its gradient; the batch-norm running statistics live likewise in ``buffers_flat`` (S, B),
their step counters in ``counters``. ``load`` and ``store_row`` copy a member's own module to
and from its row, by the member's parameter names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.nets.pack import PackedDiscriminator
from gankit.nets.tabular import GUMBEL_TEMPERATURE, TabularDiscriminator, TabularGenerator


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


def stack(members: Sequence[nn.Module]) -> Stacked:
    """The members' networks (all of one architecture) as one stacked module."""
    first = members[0]
    inner = first.discriminator if isinstance(first, PackedDiscriminator) else first
    if isinstance(inner, MLPGenerator | MLPDiscriminator):
        return StackedMLP(members)
    if isinstance(first, DCGANGenerator):
        return StackedDCGANGenerator(members)
    if isinstance(first, DCGANDiscriminator):
        return StackedDCGANDiscriminator(members)
    if isinstance(first, TabularGenerator):
        return StackedTabularGenerator(members)
    if isinstance(first, TabularDiscriminator):
        return StackedTabularDiscriminator(members)
    raise GankitError(
        f"population training stacks MLP, DCGAN and table networks, not "
        f"{type(inner).__name__}; use model=mlp or model=dcgan, or train these runs one at a time"
    )


class Stacked(nn.Module):
    """The flat storage of S members' parameters, batch-norm statistics and counters; a
    subclass computes the members' forward pass from :attr:`leaves`."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        first = members[0]
        if any("parametrizations" in name for name, _ in first.named_parameters()):
            raise GankitError(
                "population training does not stack spectral norm (its power iteration is "
                "per run); set generator.spectral_norm and discriminator.spectral_norm to "
                "false, or train these runs one at a time"
            )
        self.param_slots: list[Slot] = []
        for name, parameter in first.named_parameters():
            _add_slot(self.param_slots, name, parameter.shape)
        self.buffer_slots: list[Slot] = []
        self.counter_names: list[str] = []
        for name, buffer in first.named_buffers():
            if buffer.is_floating_point():  # batch norm's running mean and variance
                _add_slot(self.buffer_slots, name, buffer.shape)
            else:  # its num_batches_tracked
                self.counter_names.append(name)
        count = len(members)
        device = next(first.parameters()).device
        self.grouped = device.type == "cuda"  # how convolve runs the members' convolutions
        self.flat = nn.Parameter(torch.zeros(count, _size(self.param_slots), device=device))
        buffers = torch.zeros(count, _size(self.buffer_slots), device=device)
        self.register_buffer("buffers_flat", buffers)
        counters = torch.zeros(count, len(self.counter_names), dtype=torch.long, device=device)
        self.register_buffer("counters", counters)
        # Each tensor as a leaf that shares the storage of ``flat``: updating ``flat`` updates
        # them, and their gradients are separate (a view of ``flat`` itself would make
        # autograd fill a zero (S, P) tensor per layer and backward).
        self.leaves = {
            slot.name: slot.view(self.flat.detach()).requires_grad_() for slot in self.param_slots
        }
        self._buffer_views = {slot.name: slot.view(self.buffers_flat) for slot in self.buffer_slots}
        self._counter_columns = {name: i for i, name in enumerate(self.counter_names)}
        self.load(members)
        self.streams: list[torch.Generator] = []
        """Each member's random stream (row order), for the draws its single run takes from
        torch's global one: dropout masks and Gumbel noise."""
        self.shared_stream: torch.Generator | None = None
        """One stream for those draws of all members at once, in place of ``streams``."""

    @property
    def members(self) -> int:
        return len(self.flat)

    def flat_gradient(self) -> Tensor:
        """The gradient of ``flat`` from the leaves' gradients after a backward pass."""
        return torch.cat([self.leaves[slot.name].grad.flatten(1) for slot in self.param_slots], 1)

    def zero_grad(self) -> None:
        for leaf in self.leaves.values():
            leaf.grad = None

    def batch_norm(self, wide: Tensor, name: str, layer: nn.modules.batchnorm._BatchNorm) -> Tensor:
        """Training-mode batch norm ``name`` of each member's batch with its own statistics.

        ``wide`` holds the members' channels side by side, (n, S * C, ...): what the member's
        batch norm sees of its own batch, (n, C, ...), with more channels. The same kernel
        reduces each channel alike, so a member's batch norm rounds as it does alone (batch
        norm amplifies rounding in G).
        """
        weight = bias = None
        if layer.affine:
            weight, bias = (self.leaves[f"{name}.{p}"].reshape(-1) for p in ("weight", "bias"))
        running = [self._buffer_views[f"{name}.{s}"] for s in ("running_mean", "running_var")]
        mean, var = (statistic.reshape(-1).clone() for statistic in running)
        y = F.batch_norm(wide, mean, var, weight, bias, True, layer.momentum, layer.eps)
        with torch.no_grad():
            for statistic, updated in zip(running, (mean, var), strict=True):
                statistic.copy_(updated.view_as(statistic))
            self.counters[:, self._counter_columns[f"{name}.num_batches_tracked"]] += 1
        return y

    def linear(self, x: Tensor, name: str) -> Tensor:
        """Linear layer ``name`` of every member: x_s W_s^T + b_s for (S, n, in) inputs."""
        weight, bias = self.leaves[f"{name}.weight"], self.leaves[f"{name}.bias"]
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    def sequential(self, x: Tensor, layers: list[tuple[str, nn.Module, str]]) -> Tensor:
        """The layers of :func:`layer_kinds` of every member on (S, n, features) inputs."""
        members, n = x.shape[:2]
        for kind, layer, name in layers:
            if kind == "linear":
                x = self.linear(x, name)
            elif kind == "batch_norm":
                y = self.batch_norm(_side_by_side(x), name, layer)
                x = y.view(n, members, -1).transpose(0, 1)
            elif kind == "dropout":  # F.dropout's x * bernoulli(1 - p) / (1 - p), per member
                keep = 1 - layer.p
                mask = self._draw(x, lambda e, g, p=keep: e.bernoulli_(p, generator=g))
                x = x * mask.div_(keep)
            else:
                x = layer(x)
        return x

    def gumbel_softmax(self, logits: Tensor) -> Tensor:
        """F.gumbel_softmax(logits, tau) of each member's (S, n, k) logits, its noise
        -log E, E ~ Exp(1), from its own stream (or the shared one)."""
        noise = -self._draw(logits, lambda e, g: e.exponential_(generator=g)).log()
        return ((logits + noise) / GUMBEL_TEMPERATURE).softmax(-1)

    def _draw(self, x: Tensor, fill: Callable[[Tensor, torch.Generator], Tensor]) -> Tensor:
        """A random tensor shaped as x, (S, ...), that ``fill`` draws into an empty one: from
        the shared stream at once, or each member's slice from its own stream."""
        if self.shared_stream is not None:
            return fill(torch.empty_like(x), self.shared_stream)
        if len(self.streams) != self.members:
            raise RuntimeError("set the stack's streams, one per member, before a step")
        shape, dtype, device = x.shape[1:], x.dtype, x.device
        return torch.stack(
            [fill(torch.empty(shape, dtype=dtype, device=device), g) for g in self.streams]
        )

    def embedding(self, labels: Tensor, name: str) -> Tensor:
        """Embedding ``name`` of every member's labels (S, n): (S, n, features)."""
        table = self.leaves[f"{name}.weight"]
        return table[torch.arange(len(table), device=labels.device)[:, None], labels]

    def convolve(
        self, x: Tensor, name: str, layer: nn.Module, convolution: Callable[..., Tensor]
    ) -> Tensor:
        """Convolution ``name`` (``F.conv2d`` or ``F.conv_transpose2d``) of every member, on
        side-by-side channels (n, S * C, h, w).

        A member's weight, (out, in, k, k) (transposed: (in, out, k, k)), stacked on its first
        axis is the weight of one convolution with ``groups=S``; its bias likewise. On a GPU
        that is one kernel for all members; on a CPU a grouped convolution measured 1.2-1.7x
        slower than the members' convolutions one after another, so there they run in turn.
        """
        weight, bias = self.leaves[f"{name}.weight"], self.leaves[f"{name}.bias"]
        settings = {"stride": layer.stride, "padding": layer.padding}
        if self.grouped:
            grouped_weight = weight.reshape(-1, *weight.shape[2:])
            return convolution(x, grouped_weight, bias.reshape(-1), groups=self.members, **settings)
        parts = zip(x.chunk(self.members, 1), weight, bias, strict=True)
        return torch.cat([convolution(part, w, b, **settings) for part, w, b in parts], 1)

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


class StackedMLP(Stacked):
    """The members' MLP G (or D) stacked: inputs (S, n, in) to outputs (S, n, out), or D's
    logits (S, n / pack)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        first = members[0]
        self.pack = first.pack if isinstance(first, PackedDiscriminator) else 1
        inner = first.discriminator if isinstance(first, PackedDiscriminator) else first
        # A conditional MLP takes its class one-hot beside its input (nets/mlp.py, nets/pack.py).
        self.num_classes = getattr(first, "num_classes", 0)
        self.logits = isinstance(inner, MLPDiscriminator)
        self.layers = layer_kinds(first, inner.net)
        super().__init__(members)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Each member's G(z) or D(x) (with its classes ``labels``, (S, n), when conditional)."""
        if self.num_classes:
            x = torch.cat([x, F.one_hot(labels, self.num_classes).to(x.dtype)], dim=2)
        if self.pack > 1:  # PacGAN: D judges pack samples at once, concatenated
            members, n = x.shape[:2]
            x = x.reshape(members, n // self.pack, -1)
        x = self.sequential(x, self.layers)
        return x.squeeze(-1) if self.logits else x


class StackedTabularGenerator(Stacked):
    """The members' table G (nets/tabular.py) stacked, in training mode: noise (S, n, d) and
    conditions (S, n) to rows (S, n, width), a tanh or a Gumbel-softmax per span."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        first = members[0]
        self.classes, self.spans = first.classes, first.spans
        self.layers = layer_kinds(first, [*first.body, first.out])
        super().__init__(members)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.classes:
            z = torch.cat([z, F.one_hot(labels, self.classes).to(z.dtype)], dim=2)
        raw = self.sequential(z, self.layers)
        parts, start = [], 0
        for size, activation in self.spans:  # in order: each member's noise, as drawn alone
            chunk = raw[..., start : start + size]
            parts.append(torch.tanh(chunk) if activation == "tanh" else self.gumbel_softmax(chunk))
            start += size
        return torch.cat(parts, dim=2)


class StackedTabularDiscriminator(Stacked):
    """The members' table D stacked: rows (S, n, width) and conditions (S, n) to logits
    (S, n / pack), each member's dropout masks from its own stream."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        first = members[0]
        self.classes, self.pack = first.classes, first.pack
        self.layers = layer_kinds(first, first.net)
        super().__init__(members)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.classes:
            x = torch.cat([x, F.one_hot(labels, self.classes).to(x.dtype)], dim=2)
        members, n = x.shape[:2]
        x = x.reshape(members, n // self.pack, -1)  # PacGAN: pack rows judged at once
        return self.sequential(x, self.layers).squeeze(-1)


class StackedDCGANGenerator(Stacked):
    """The members' DCGAN G stacked: noise (S, n, d) to images (S, n, C, H, W).

    Between the projection and the image the members' feature maps lie side by side as
    channels, (n, S * C, h, w), so that each transposed convolution of all members is one
    grouped convolution and each batch norm one batch norm over S * C channels.
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        first = members[0]
        self.side = first.side
        self.conditional = bool(first.norms[0].num_classes)
        self.norm_layers = [norm.norm for norm in first.norms]
        self.convolutions = [(f"ups.{i}", up) for i, up in enumerate(first.ups)]
        self.convolutions.append(("to_image", first.to_image))
        super().__init__(members)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        members, n = z.shape[:2]
        x = _side_by_side(self.linear(z, "project").view(members, n, -1, self.side, self.side))
        *ups, to_image = self.convolutions
        for index, (name, up) in enumerate(ups):
            x = torch.relu(self._class_norm(x, index, labels))
            x = self.convolve(x, name, up, F.conv_transpose2d)
        x = torch.relu(self._class_norm(x, len(ups), labels))
        x = torch.tanh(self.convolve(x, *to_image, F.conv2d))
        return x.view(n, members, -1, *x.shape[2:]).transpose(0, 1)

    def _class_norm(self, x: Tensor, index: int, labels: Tensor | None) -> Tensor:
        """ClassBatchNorm2d ``norms.{index}``: gamma_y * x_hat + beta_y of each member."""
        name = f"norms.{index}"
        x = self.batch_norm(x, f"{name}.norm", self.norm_layers[index])
        if not self.conditional:
            return x
        gamma, beta = (
            _side_by_side(self.embedding(labels, f"{name}.{p}"))[:, :, None, None]
            for p in ("gamma", "beta")
        )
        return gamma * x + beta


class StackedDCGANDiscriminator(Stacked):
    """The members' DCGAN D stacked: images (S, n, C, H, W) to logits (S, n)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        first = members[0]
        self.convolutions = [
            (name, layer)
            for name, layer in first.features.named_children()
            if isinstance(layer, nn.Conv2d)
        ]
        self.slope = next(
            layer.negative_slope for layer in first.features if isinstance(layer, nn.LeakyReLU)
        )
        self.projection = first.head.embed is not None
        super().__init__(members)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        members, n = x.shape[:2]
        x = _side_by_side(x)
        for name, layer in self.convolutions:
            x = F.leaky_relu(self.convolve(x, f"features.{name}", layer, F.conv2d), self.slope)
        h = x.reshape(n, members, -1).transpose(0, 1)  # each member's features, flattened
        logit = self.linear(h, "head.linear").squeeze(-1)  # psi(h)
        if self.projection:  # + <embed(y), h> (ProjectionHead)
            logit = logit + (self.embedding(labels, "head.embed") * h).sum(-1)
        return logit


def layer_kinds(member: nn.Module, layers: Sequence[nn.Module]) -> list[tuple[str, nn.Module, str]]:
    """(kind, layer, its name in ``member``) of each layer of an MLP, for
    :meth:`Stacked.sequential`: linear, batch_norm, dropout or elementwise (an activation)."""
    prefix = {id(m): n for n, m in member.named_modules()}
    kinds = []
    for layer in layers:
        if isinstance(layer, nn.Linear):
            kind = "linear"
        elif isinstance(layer, nn.BatchNorm1d):
            kind = "batch_norm"
        elif isinstance(layer, nn.Dropout):
            kind = "dropout"
        elif sum(1 for _ in layer.parameters()) == 0:
            kind = "elementwise"
        else:
            raise GankitError(f"population training cannot stack a {type(layer).__name__}")
        kinds.append((kind, layer, prefix[id(layer)]))
    return kinds


def _side_by_side(x: Tensor) -> Tensor:
    """(S, n, C, ...) to (n, S * C, ...): each member's channels as a block of channels."""
    return x.transpose(0, 1).reshape(x.shape[1], -1, *x.shape[3:])


def _add_slot(slots: list[Slot], name: str, shape: torch.Size) -> None:
    slots.append(Slot(name, _size(slots), tuple(shape)))


def _size(slots: list[Slot]) -> int:
    return slots[-1].start + math.prod(slots[-1].shape) if slots else 0
