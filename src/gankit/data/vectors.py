"""Vector data as the trainer sees it: standardised minibatches, and the way back to data space."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import torch
from torch import Tensor

from gankit.data.mixtures import GaussianMixture


@dataclass
class Standardizer:
    """x -> (x - mean) / std per feature, so every data set reaches the networks at unit scale."""

    mean: Tensor
    std: Tensor

    @classmethod
    def fit(cls, points: Tensor) -> Standardizer:
        # In float64: the squares of values near 1e19 and up overflow float32.
        wide = points.double()
        std = wide.std(dim=0)
        std = torch.where(std > 0, std, torch.ones_like(std))
        return cls(wide.mean(dim=0).to(points.dtype), std.to(points.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def inverse(self, x: Tensor) -> Tensor:
        return x * self.std + self.mean

    def to(self, device: torch.device) -> Standardizer:
        return Standardizer(self.mean.to(device), self.std.to(device))


@dataclass
class VectorData:
    """A source of d-dimensional training vectors.

    Either ``density`` is a known distribution (every minibatch is a fresh draw from p_data),
    or ``points`` is a finite data set (minibatches are drawn from it uniformly, with
    replacement). Both give unbiased Monte Carlo estimates of the expectations over p_data.

    Labelled points (``labels`` 0..K-1 naming ``classes``) keep held-out points, never trained
    on, and may keep validation points (a class made rare: see :class:`~gankit.config.RareConfig`).
    """

    name: str
    standardizer: Standardizer
    density: GaussianMixture | None = None
    points: Tensor | None = None  # in data space
    labels: Tensor | None = None  # (n,) int64, with points
    classes: list[str] = dataclasses.field(default_factory=list)
    heldout_points: Tensor | None = None
    heldout_labels: Tensor | None = None
    validation_points: Tensor | None = None
    validation_labels: Tensor | None = None

    def __post_init__(self) -> None:
        if (self.density is None) == (self.points is None):
            raise ValueError("VectorData needs exactly one of density and points")
        if self.points is not None:
            self._standardised = self.standardizer.forward(self.points)

    @property
    def dim(self) -> int:
        return self.density.dim if self.density is not None else self.points.shape[1]

    @property
    def shape(self) -> tuple[int]:
        """The shape of one sample, (d,)."""
        return (self.dim,)

    @property
    def num_classes(self) -> int:
        """K, the classes of labelled points; 0 for unlabelled vectors."""
        return len(self.classes)

    def fingerprint(self) -> str:
        """The data's identity, which a resumed run checks: the row count and a hash of the rows
        (up to 4,096 of them, evenly spread over a larger set), or of the density's parameters."""
        digest = hashlib.sha256()
        if self.density is not None:
            for tensor in (self.density.means, self.density.stds, self.density.weights):
                digest.update(tensor.cpu().numpy().tobytes())
            return f"density {digest.hexdigest()[:16]}"
        rows = self.points[:: max(1, len(self.points) // 4096)]
        digest.update(rows.cpu().contiguous().numpy().tobytes())
        if self.labels is not None:
            digest.update(self.labels.cpu().numpy().tobytes())
        return f"{len(self.points)} rows {digest.hexdigest()[:16]}"

    def to(self, device: torch.device) -> VectorData:
        """The same data with every tensor on ``device``, so minibatches are drawn there."""
        if self.standardizer.mean.device == torch.device(device):
            return self
        return dataclasses.replace(
            self,
            standardizer=self.standardizer.to(device),
            density=self.density.to(device) if self.density is not None else None,
            points=self.points.to(device) if self.points is not None else None,
            labels=self.labels.to(device) if self.labels is not None else None,
        )

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """A minibatch of n standardised training vectors."""
        if self.density is not None:
            return self.standardizer.forward(self.density.sample(n, generator))
        rows = torch.randint(
            len(self._standardised), (n,), generator=generator, device=self.points.device
        )
        return self._standardised[rows]

    def sample_labelled(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """n standardised labelled training vectors and their labels, uniformly with replacement."""
        rows = torch.randint(
            len(self._standardised), (n,), generator=generator, device=self.points.device
        )
        return self._standardised[rows], self.labels[rows]

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n labels with the training points' class frequencies (for G's conditioning)."""
        rows = torch.randint(len(self.labels), (n,), generator=generator, device=self.labels.device)
        return self.labels[rows]

    def real_samples(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n real vectors in data space (for plots and metrics)."""
        if self.density is not None:
            return self.density.sample(n, generator)
        if n >= len(self.points):
            return self.points
        return self.points[torch.randperm(len(self.points), generator=generator)[:n]]
