"""The lab's problems: each a Gaussian mixture, so that p_data and D* are known exactly.

``ring8``, ``grid25`` and ``mixture1d`` are gankit's own (:data:`gankit.data.MIXTURES`); ``line``,
``ring`` and ``disjoint`` follow GAN Lab's data sets (Kahng et al. 2019) as mixtures of many
narrow Gaussians along a segment or a circle; ``drawn`` places one Gaussian on each point the
user drew, which gives a drawing an exact density.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from gankit.config import Config
from gankit.data import MIXTURES
from gankit.data.mixtures import GaussianMixture
from gankit.errors import GankitError

MODE_PROBLEMS = ("ring8", "grid25", "mixture1d")
"""Problems whose components are separate modes, scored by PacGAN's mode coverage."""
SHAPES = ("line", "ring", "disjoint")
PROBLEMS = (*MODE_PROBLEMS, *SHAPES, "drawn")

DRAWN_STD = 0.05
"""Each drawn point's Gaussian: 0.05 of a unit on the drawing board, which spans [-1.5, 1.5]^2."""
DRAWING_LIMIT = 1.5
MAX_DRAWN_POINTS = 400
MIN_DRAWN_POINTS = 3


def _segment(start: Sequence[float], end: Sequence[float], parts: int, std: float) -> torch.Tensor:
    """``parts`` means evenly along a segment, each a Gaussian of ``std``; (parts, 2)."""
    t = torch.linspace(0, 1, parts, dtype=torch.float64)[:, None]
    return (1 - t) * torch.tensor(start, dtype=torch.float64) + t * torch.tensor(end).double()


def _equal_weights(means: torch.Tensor, std: float) -> GaussianMixture:
    return GaussianMixture(means, torch.full((len(means),), std), torch.ones(len(means)))


def line() -> GaussianMixture:
    """GAN Lab's line: a diagonal segment, 40 Gaussians of std 0.03 along it."""
    return _equal_weights(_segment((-1.0, -0.6), (1.0, 0.6), 40, 0.03), 0.03)


def ring() -> GaussianMixture:
    """GAN Lab's ring: a whole circle of radius 1, 64 Gaussians of std 0.04 around it."""
    angles = 2 * math.pi * torch.arange(64, dtype=torch.float64) / 64
    return _equal_weights(torch.stack([angles.cos(), angles.sin()], dim=1), 0.04)


def disjoint() -> GaussianMixture:
    """GAN Lab's disjoint sets: two parallel segments far apart, 20 Gaussians of std 0.03 each."""
    upper = _segment((-1.0, 0.6), (0.2, 0.6), 20, 0.03)
    lower = _segment((-0.2, -0.6), (1.0, -0.6), 20, 0.03)
    return _equal_weights(torch.cat([upper, lower]), 0.03)


def drawn(points: Sequence[Sequence[float]]) -> GaussianMixture:
    """A Gaussian of std DRAWN_STD on each drawn point (at most MAX_DRAWN_POINTS, evenly kept)."""
    try:
        means = torch.tensor(points, dtype=torch.float64)
    except (TypeError, ValueError):
        raise GankitError("a drawing is a list of [x, y] points, e.g. [[0, 0], [0.5, 1]]") from None
    if means.ndim != 2 or means.shape[1] != 2 or len(means) < MIN_DRAWN_POINTS:
        raise GankitError(
            f"a drawing needs at least {MIN_DRAWN_POINTS} [x, y] points; draw a longer stroke"
        )
    if not means.isfinite().all() or means.abs().max() > DRAWING_LIMIT:
        raise GankitError(
            f"drawn points must lie in [-{DRAWING_LIMIT}, {DRAWING_LIMIT}]^2; draw on the board"
        )
    if len(means) > MAX_DRAWN_POINTS:
        keep = torch.linspace(0, len(means) - 1, MAX_DRAWN_POINTS).round().long()
        means = means[keep]
    return _equal_weights(means, DRAWN_STD)


def build_problem(
    name: str, config: Config, points: Sequence[Sequence[float]] | None = None
) -> GaussianMixture:
    """The density of problem ``name`` (``mixture1d`` reads ``config.mixture``)."""
    if name in MODE_PROBLEMS:
        return MIXTURES[name](config)
    if name == "drawn":
        if points is None:
            raise GankitError("draw some points on the board first, then choose 'drawn'")
        return drawn(points)
    shapes = {"line": line, "ring": ring, "disjoint": disjoint}
    if name not in shapes:
        raise GankitError(f"unknown problem {name!r}; choose one of {', '.join(PROBLEMS)}")
    return shapes[name]()


def view_bounds(density: GaussianMixture) -> list[tuple[float, float]]:
    """Per axis (low, high): the means +-4 stds, padded by 15%; square in 2D."""
    low = (density.means - 4 * density.stds).min(0).values
    high = (density.means + 4 * density.stds).max(0).values
    centre, half = (low + high) / 2, (high - low).max() / 2 * 1.15
    if density.dim == 1:
        half = (high - low)[0] / 2 * 1.15
    return [(float(c - half), float(c + half)) for c in centre]
