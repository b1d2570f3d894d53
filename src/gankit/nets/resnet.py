"""ResNet G and D with spectral normalisation in D (SNGAN: Miyato et al. 2018, appendix B).

G: z -> 4x4 map (7x7 for 28 px: :func:`base_side`) -> residual blocks that each double the
resolution (batch norm, ReLU, 3x3 convolutions; conditional batch norm with classes) -> BN,
ReLU, 3x3 conv, tanh. D: residual blocks that halve the resolution down to 8x8 or less (7x7
for 28 px), two more there, ReLU, global sum pooling and a spectral-normalised linear (+
projection) head. Built for 32 and 64 px (16 to 64 work); ``width`` 64 gives SNGAN's CIFAR
sizes: 256 channels in G, 128 in D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.nets.layers import ClassBatchNorm2d, ProjectionHead, base_side, halvings, image_sizes
from gankit.nets.layers import maybe_spectral_norm as sn

SIZES = image_sizes(16, 64)


class GeneratorBlock(nn.Module):
    """x -> x upsampled + conv(ReLU(BN(conv(ReLU(BN(x)))))), at twice the resolution."""

    def __init__(self, c_in: int, c_out: int, num_classes: int) -> None:
        super().__init__()
        self.norm1 = ClassBatchNorm2d(c_in, num_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = ClassBatchNorm2d(c_out, num_classes)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        h = F.interpolate(torch.relu(self.norm1(x, labels)), scale_factor=2)
        h = self.conv2(torch.relu(self.norm2(self.conv1(h), labels)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DiscriminatorBlock(nn.Module):
    """x -> shortcut(x) + conv(ReLU(conv(ReLU(x)))), average-pooled to half size if ``down``.

    The first block of D skips the leading ReLU and pools before its 1x1 shortcut (SNGAN's
    "optimized block").
    """

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = sn(nn.Conv2d(c_in, c_out, 3, padding=1), True)
        self.conv2 = sn(nn.Conv2d(c_out, c_out, 3, padding=1), True)
        self.shortcut = sn(nn.Conv2d(c_in, c_out, 1), True)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(torch.relu(self.conv1(x if self.first else torch.relu(x))))
        if self.first:
            return F.avg_pool2d(h, 2) + self.shortcut(F.avg_pool2d(x, 2))
        skip = self.shortcut(x)
        if self.down:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class ResNetGenerator(nn.Module):
    """G(z, y) for (C, R, R) images, R in :data:`SIZES`."""

    def __init__(
        self, noise_dim: int, shape: tuple[int, int, int], width: int = 64, num_classes: int = 0
    ) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        channels = 4 * width
        self.side = base_side(shape[1])
        self.project = nn.Linear(noise_dim, channels * self.side**2)
        self.blocks = nn.ModuleList(
            GeneratorBlock(channels, channels, num_classes) for _ in range(halvings(shape[1]))
        )
        self.norm = nn.BatchNorm2d(channels)
        self.to_image = nn.Conv2d(channels, shape[0], 3, padding=1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        x = self.project(z).view(len(z), -1, self.side, self.side)
        for block in self.blocks:
            x = block(x, labels)
        return torch.tanh(self.to_image(torch.relu(self.norm(x))))


class ResNetDiscriminator(nn.Module):
    """D(x, y) as a logit, every layer spectral-normalised; a projection D with classes."""

    def __init__(self, shape: tuple[int, int, int], width: int = 64, num_classes: int = 0) -> None:
        super().__init__()
        channels = 2 * width
        downs = halvings(shape[1]) - (base_side(shape[1]) == 4)  # halvings down to 8x8 or less
        blocks = [DiscriminatorBlock(shape[0], channels, down=True, first=True)]
        blocks += [DiscriminatorBlock(channels, channels, down=True) for _ in range(downs - 1)]
        blocks += [DiscriminatorBlock(channels, channels, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.head = ProjectionHead(channels, num_classes, spectral=True)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = torch.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        return self.head(h, labels)
