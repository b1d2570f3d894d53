"""Named 1D problems: a data density p_data and a fixed generator density p_g, both exact."""

from __future__ import annotations

from dataclasses import dataclass

from gankit.data.mixtures import GaussianMixture, mixture1d


@dataclass(frozen=True)
class Problem:
    """A pair (p_data, p_g) of 1D Gaussian mixtures."""

    p_data: GaussianMixture
    p_g: GaussianMixture

    @property
    def label(self) -> str:
        return f"{describe(self.p_data)} vs {describe(self.p_g)}"


def gaussian(mean: float, std: float) -> GaussianMixture:
    """N(mean, std^2) as a one-component mixture (written N(mean, std) in tables)."""
    return mixture1d([mean], [std], [1.0])


def describe(density: GaussianMixture) -> str:
    """'N(0, 1)' or '0.5 N(-2, 0.5) + 0.5 N(2, 0.5)': mean and standard deviation."""
    parts = [
        f"N({mean:g}, {std:g})"
        for mean, std in zip(density.means[:, 0].tolist(), density.stds[:, 0].tolist(), strict=True)
    ]
    if len(parts) == 1:
        return parts[0]
    return " + ".join(
        f"{w:.2g} {part}" for w, part in zip(density.weights.tolist(), parts, strict=True)
    )


BIMODAL = mixture1d([-2.0, 2.0], [0.5, 0.5], [1.0, 1.0])
"""Two well-separated modes, the data of the mixture problems."""
