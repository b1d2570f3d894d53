"""Pictures of a synthetic table beside the real one: each column's distribution, and the
associations between columns.

Both read pandas DataFrames and ``kinds`` (column -> "continuous" | "integer" |
"categorical", as in :mod:`gankit.metrics.tables`) and stay legible up to a few dozen
columns: small fonts, and a figure that grows with the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gankit.metrics.tables import association_matrix, canonical
from gankit.output.figures import FAKE_COLOUR, REAL_COLOUR, Target, save_figure

PANELS_PER_ROW = 4
TOP_CATEGORIES = 12
"""Categories drawn per categorical column; the rest are pooled as "other"."""

_BINS = 30
# Longer names are cut, so that titles and tick labels keep clear of their neighbours.
_TITLE_CHARACTERS = 32
_LABEL_CHARACTERS = 18


def plot_columns(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], path: Target
) -> None:
    """One panel per column, real beside synthetic: histograms on the same bins for a numeric
    column, bars of each category's share for a categorical one (the ``TOP_CATEGORIES`` most
    common, the rest as "other"); each title gives the missing shares when there are any.

    A numeric column's bins span the 0.5th to 99.5th percentile of both tables together, and
    values beyond lie in the end bins, so that one wild synthetic value cannot flatten the
    picture (``validity``'s ``out_of_range`` counts them). Shares are of the values present.
    """
    real, synthetic = canonical(real, kinds), canonical(synthetic, kinds)
    columns = min(PANELS_PER_ROW, len(kinds))
    rows = math.ceil(len(kinds) / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.4 * rows), squeeze=False)
    for axes, (column, kind) in zip(grid.flat, kinds.items(), strict=False):
        if kind == "categorical":
            _category_bars(axes, real[column].dropna(), synthetic[column].dropna())
        else:
            _histograms(axes, real[column].dropna(), synthetic[column].dropna(), kind)
        title = _cut(column, _TITLE_CHARACTERS)
        missing = real[column].isna().mean(), synthetic[column].isna().mean()
        if any(share > 0 for share in missing):
            title += f"\nmissing: real {missing[0]:.1%}, synthetic {missing[1]:.1%}"
        axes.set_title(title, fontsize=8)
        axes.tick_params(labelsize=6)
    for axes in grid.flat[len(kinds) :]:
        axes.set_visible(False)
    # A title rather than a legend: tight_layout makes room for it, and no panel is covered.
    figure.suptitle("real (blue) and synthetic (red), each column's values", fontsize=9)
    save_figure(figure, path)


def plot_associations(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str], path: Target
) -> None:
    """The association matrices of the real and the synthetic table side by side, on one
    colour scale from 0 to 1 (|Pearson r| for numbers, Cramer's V for categories, the
    correlation ratio eta between the two); grey where a pair is undefined."""
    matrices = {
        "real": association_matrix(real, kinds),
        "synthetic": association_matrix(synthetic, kinds),
    }
    difference = float(np.nanmean(np.abs(matrices["real"] - matrices["synthetic"]).to_numpy()))
    size = len(kinds)
    side = max(3.5, 0.26 * size + 1.5)  # about a quarter inch per column, past the labels
    fontsize = 8 if size <= 12 else 6 if size <= 24 else 5
    # The colour bar has an axes of its own in the grid, which tight_layout can arrange.
    figure, (*panels, bar) = plt.subplots(
        1, 3, figsize=(2 * side + 1.2, side + 0.6), gridspec_kw={"width_ratios": [1, 1, 0.05]}
    )
    colour_map = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    for axes, (name, matrix) in zip(panels, matrices.items(), strict=True):
        image = axes.imshow(
            np.ma.masked_invalid(matrix.to_numpy()), vmin=0, vmax=1, cmap=colour_map
        )
        labels = [_cut(column, _LABEL_CHARACTERS) for column in matrix.columns]
        axes.set_xticks(range(size), labels, rotation=90, fontsize=fontsize)
        axes.set_yticks(range(size), labels, fontsize=fontsize)
        axes.set_title(name, fontsize=9)
    figure.colorbar(image, cax=bar).ax.tick_params(labelsize=7)
    figure.suptitle(
        "association, 0 to 1: |Pearson r|, Cramer's V, correlation ratio"
        f" (mean |real - synthetic| {difference:.3f})",
        fontsize=9,
    )
    save_figure(figure, path)


def _histograms(axes: plt.Axes, real: pd.Series, synthetic: pd.Series, kind: str) -> None:
    both = pd.concat([real, synthetic])
    if both.empty:
        axes.text(0.5, 0.5, "no values", ha="center", va="center", transform=axes.transAxes)
        return
    low, high = np.percentile(both, [0.5, 99.5])
    if kind == "integer":
        # Bins a whole number of integers wide, centred on them: equal widths that each
        # hold as many integers, else the histogram shows a comb of 2s and 3s.
        width = max(1, math.ceil((high - low + 1) / _BINS))
        bins = np.arange(math.floor(low), math.ceil(high) + width + 1, width) - 0.5
    elif high > low:
        bins = np.linspace(low, high, _BINS + 1)
    else:
        bins = np.array([low - 0.5, low + 0.5])  # a constant: one bin around it
    for values, colour, label, style in (
        (real, REAL_COLOUR, "real", {"alpha": 0.45}),
        (synthetic, FAKE_COLOUR, "synthetic", {"histtype": "step", "linewidth": 1.2}),
    ):
        if len(values):
            clipped = np.clip(values.to_numpy(), bins[0], bins[-1])
            axes.hist(clipped, bins=bins, density=True, color=colour, label=label, **style)
    axes.set_yticks([])


def _category_bars(axes: plt.Axes, real: pd.Series, synthetic: pd.Series) -> None:
    shares = pd.DataFrame(
        {
            "real": real.value_counts(normalize=True),
            "synthetic": synthetic.value_counts(normalize=True),
        }
    ).fillna(0.0)
    order = shares.sum(axis=1).sort_values(ascending=False, kind="stable").index
    shares = shares.loc[order]
    if len(shares) > TOP_CATEGORIES:
        rest = shares.iloc[TOP_CATEGORIES - 1 :].sum().rename("other")
        shares = pd.concat([shares.iloc[: TOP_CATEGORIES - 1], rest.to_frame().T])
    positions = np.arange(len(shares))
    axes.bar(positions - 0.2, shares["real"], 0.4, color=REAL_COLOUR, alpha=0.7, label="real")
    axes.bar(positions + 0.2, shares["synthetic"], 0.4, color=FAKE_COLOUR, label="synthetic")
    axes.set_xticks(
        positions,
        [_cut(str(name), _LABEL_CHARACTERS) for name in shares.index],
        rotation=60,
        ha="right",
        rotation_mode="anchor",
    )
    axes.set_ylabel("share", fontsize=7)


def _cut(name: str, characters: int) -> str:
    return name if len(name) <= characters else name[: characters - 1] + "…"
