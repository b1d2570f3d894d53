"""Confidence intervals over repeated runs: Student's t interval of a mean, and of a paired gain.

Runs repeated over seeds give a handful of numbers x_1..x_n; their mean has the 95% interval
mean +/- t_{0.975, n-1} * s / sqrt(n), with s the sample standard deviation (ddof = 1). A gain
of regime A over regime B is paired: the seed fixes the real training subset and the
classifier's initialisation for both, so the interval is that of the differences a_i - b_i,
which is much narrower than comparing two independent intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """A mean and its two-sided confidence interval [low, high] at ``level``, from n values."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly above or wholly below 0."""
        return self.low > 0 or self.high < 0

    def format(self, scale: float = 1.0, digits: int = 1) -> str:
        """``mean [low, high]``, each times ``scale`` (100 for percentages)."""
        if math.isnan(self.low):
            return f"{self.mean * scale:.{digits}f}"
        return (
            f"{self.mean * scale:.{digits}f} "
            f"[{self.low * scale:.{digits}f}, {self.high * scale:.{digits}f}]"
        )

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


def mean_and_standard_error(values: Sequence[float]) -> tuple[float, float]:
    """The mean of ``values`` and its standard error s / sqrt(n) (nan for one value), as the
    benchmarks report results over seeds."""
    array = np.asarray(values, dtype=float)
    error = array.std(ddof=1) / math.sqrt(len(array)) if len(array) > 1 else math.nan
    return float(array.mean()), float(error)


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student's t interval of the mean of ``values``; with one value, low = high = nan."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) == 0:
        raise ValueError("t_interval needs a non-empty 1-D sequence of numbers")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1); got {level}")
    mean = float(array.mean())
    if len(array) == 1:
        return Interval(mean, math.nan, math.nan, 1, level)
    # mean +/- t_{(1+level)/2, n-1} * s / sqrt(n)
    half = stats.t.ppf((1 + level) / 2, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array))
    return Interval(mean, float(mean - half), float(mean + half), len(array), level)


def paired_gain(
    values: Sequence[float], baseline: Sequence[float], level: float = 0.95
) -> Interval:
    """The t interval of the per-seed differences ``values[i] - baseline[i]``."""
    if len(values) != len(baseline):
        raise ValueError(f"paired values need equal lengths; got {len(values)} and {len(baseline)}")
    return t_interval(np.subtract(values, baseline), level)
