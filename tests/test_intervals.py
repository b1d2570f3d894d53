"""The confidence-interval arithmetic of the augmentation study."""

import math

import numpy as np
import pytest

from gankit.metrics.intervals import paired_gain, t_interval


def test_the_t_interval_matches_the_textbook_numbers() -> None:
    # 1, 2, 3, 4, 5: mean 3, s = sqrt(2.5), t_{0.975, 4} = 2.776445 (tables)
    interval = t_interval([1, 2, 3, 4, 5])
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert interval.mean == 3
    assert interval.low == pytest.approx(3 - half, abs=1e-5)
    assert interval.high == pytest.approx(3 + half, abs=1e-5)
    assert interval.half_width == pytest.approx(half, abs=1e-5)
    # two values: t_{0.975, 1} = 12.7062
    pair = t_interval([0.80, 0.84])
    assert pair.half_width == pytest.approx(12.7062 * 0.04 / math.sqrt(2) / math.sqrt(2), rel=1e-4)


def test_a_wider_level_gives_a_wider_interval_and_one_value_no_interval() -> None:
    values = [0.1, 0.3, 0.2, 0.25]
    assert t_interval(values, 0.99).half_width > t_interval(values, 0.95).half_width
    single = t_interval([0.7])
    assert single.mean == 0.7 and math.isnan(single.low) and not single.excludes_zero()
    assert single.format(100) == "70.0"


def test_the_interval_covers_the_true_mean_about_95_times_in_100() -> None:
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(4000):
        interval = t_interval(rng.normal(1.0, 2.0, 5))
        covered += interval.low <= 1.0 <= interval.high
    assert 0.94 < covered / 4000 < 0.96


def test_a_paired_gain_is_the_interval_of_the_differences() -> None:
    baseline = [0.70, 0.80, 0.75, 0.85]
    better = [b + d for b, d in zip(baseline, [0.02, 0.03, 0.025, 0.035], strict=True)]
    gain = paired_gain(better, baseline)
    assert gain.mean == pytest.approx(0.0275)
    assert gain.low > 0 and gain.excludes_zero()  # the seeds' spread cancels in the pairs
    unpaired = t_interval(better).low - t_interval(baseline).high
    assert unpaired < 0  # compared unpaired, the same numbers would show no gain
    # s of the differences = sqrt(1.25e-4 / 3); t_{0.975, 3} = 3.182446: half width 1.03 points
    assert gain.format(100) == "2.8 [1.7, 3.8]"
    assert gain.half_width == pytest.approx(3.182446 * math.sqrt(1.25e-4 / 3) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_gain([1, 2], [1])
