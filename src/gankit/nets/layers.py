"""Layers the convolutional networks share: class-conditional batch norm, the projection
head of a conditional D, optional spectral normalisation, and the image sizes they take."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.errors import ConfigError


def maybe_spectral_norm(layer: nn.Module, enabled: bool) -> nn.Module:
    """``layer`` with its weight divided by its largest singular value (Miyato et al. 2018)."""
    return spectral_norm(layer) if enabled else layer


class ClassBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are chosen by the class: gamma_y * x_hat + beta_y.

    Conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018). With
    ``num_classes`` 0 it is plain batch norm with one learnt scale and shift.
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.norm = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gamma = nn.Embedding(num_classes, channels)
            self.beta = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gamma.weight)
            nn.init.zeros_(self.beta.weight)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        x = self.norm(x)
        if not self.num_classes:
            return x
        return self.gamma(labels)[:, :, None, None] * x + self.beta(labels)[:, :, None, None]


class ProjectionHead(nn.Module):
    """D's logit from features h: psi(h) + <embed(y), h> (Miyato & Koyama 2018, eq. 3).

    The inner product with the class embedding is the projection discriminator's way to use
    the label; with ``num_classes`` 0 only the linear psi(h) remains.
    """

    def __init__(self, features: int, num_classes: int, spectral: bool) -> None:
        super().__init__()
        self.linear = maybe_spectral_norm(nn.Linear(features, 1), spectral)
        self.embed = None
        if num_classes:
            embed = nn.Embedding(num_classes, features)
            # Glorot-uniform, as SNGAN's code: N(0, 1) would let <embed(y), h> swamp psi(h)
            nn.init.xavier_uniform_(embed.weight)
            self.embed = maybe_spectral_norm(embed, spectral)

    def forward(self, h: Tensor, labels: Tensor | None = None) -> Tensor:
        logit = self.linear(h).squeeze(-1)
        if self.embed is None:
            return logit
        return logit + (self.embed(labels) * h).sum(-1)


def base_side(resolution: int) -> int:
    """The side of the smallest feature map: ``resolution`` halved while it is even and above
    7 (4 for 32 px, 7 for 28 px). G starts from a map of this side; D ends on one."""
    while resolution > 7 and resolution % 2 == 0:
        resolution //= 2
    return resolution


def halvings(resolution: int) -> int:
    """How many times ``resolution`` halves down to :func:`base_side` (3 for 32 px, 2 for 28)."""
    return (resolution // base_side(resolution)).bit_length() - 1


def image_sizes(low: int, high: int) -> tuple[int, ...]:
    """The square sizes from ``low`` to ``high`` px that halve at least once to a 4 to 7 px map:
    8, 10, 12, 14, 16, 20, 24, 28, 32, 40, ..."""
    return tuple(
        size for size in range(low, high + 1) if 4 <= base_side(size) <= 7 and halvings(size) >= 1
    )


def check_resolution(
    arch: str, shape: tuple[int, ...], sizes: tuple[int, ...]
) -> tuple[int, int, int]:
    """``shape`` (C, H, W) if ``arch`` makes images of that size, else a ConfigError."""
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in sizes:
        listed = ", ".join(map(str, sizes))
        raise ConfigError(
            f"model={arch} makes square images of {listed} pixels; the data is "
            f"{'x'.join(map(str, shape[1:]))}, so set image.resolution to one of {listed}"
        )
    return (shape[0], shape[1], shape[2])
