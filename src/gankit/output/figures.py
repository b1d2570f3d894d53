"""Pictures of a run: the loss curves, and samples over the real data or its exact density."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import torch

from gankit.data.vectors import VectorData
from gankit.files import write_atomically

FAKE_COLOUR, REAL_COLOUR = "tab:red", "tab:blue"
TRAINING_KEYS = ("step", "loss_d", "loss_g", "d_real", "d_fake")  # what plot_losses draws

# A file path, or a binary file such as io.BytesIO (a PNG in memory, for gankit report).
Target = Path | IO[bytes]


def plot_losses(records: Sequence[dict[str, Any]], path: Target) -> None:
    """Both losses, and mean D(x) and D(G(z)), against the step."""
    steps = [r["step"] for r in records]
    figure, (losses, outputs) = plt.subplots(1, 2, figsize=(10, 3.6))
    losses.plot(steps, [r["loss_d"] for r in records], label="L_D")
    losses.plot(steps, [r["loss_g"] for r in records], label="L_G")
    losses.axhline(np.log(4), color="grey", lw=0.8, ls="--", label="log 4 (L_D at D = 1/2)")
    losses.set(xlabel="step", title="losses")
    outputs.plot(steps, [r["d_real"] for r in records], label="mean D(x)", color=REAL_COLOUR)
    outputs.plot(steps, [r["d_fake"] for r in records], label="mean D(G(z))", color=FAKE_COLOUR)
    outputs.axhline(0.5, color="grey", lw=0.8, ls="--", label="1/2 (p_g = p_data)")
    outputs.set(xlabel="step", ylim=(0, 1), title="discriminator outputs")
    for axes in (losses, outputs):
        axes.legend(fontsize=8)
    save_figure(figure, path)


def plot_metrics(records: Sequence[dict[str, Any]], path: Target) -> bool:
    """Each evaluation metric against the step, one panel each; False (nothing drawn) when no
    metric was measured twice. Per-class metrics ("class_accuracy/3") are left out, and so
    are those that never changed (a held-out set's own DCR, say): the summary shows them."""
    series: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for key, value in record.items():
            measured = isinstance(value, int | float) and not isinstance(value, bool)
            if key not in TRAINING_KEYS and "/" not in key and measured:
                series.setdefault(key, []).append((record["step"], value))
    series = {
        key: points
        for key, points in series.items()
        if len(points) > 1 and len({value for _, value in points}) > 1
    }
    if not series:
        return False
    columns = min(4, len(series))
    rows = math.ceil(len(series) / columns)
    figure, grid = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.2 * rows), squeeze=False)
    for axes, (key, points) in zip(grid.flat, series.items(), strict=False):
        axes.plot(*zip(*points, strict=True), marker=".")
        axes.set_title(key, fontsize=9)
        axes.tick_params(labelsize=7)
    for axes in grid.flat[len(series) :]:
        axes.set_visible(False)
    save_figure(figure, path)
    return True


def plot_samples(samples: np.ndarray, data: VectorData, path: Path, title: str = "") -> None:
    """1D: histogram over the density; 2D and up: scatter (first two features) over the data."""
    figure, axes = plt.subplots(figsize=(5.2, 5.2) if samples.shape[1] > 1 else (7, 3.6))
    if samples.shape[1] == 1:
        _histogram(axes, samples[:, 0], data)
    else:
        _scatter(axes, samples, data)
    axes.set_title(title or f"{len(samples)} samples of G on {data.name}")
    save_figure(figure, path)


def _histogram(axes: plt.Axes, samples: np.ndarray, data: VectorData) -> None:
    real = data.real_samples(max(len(samples), 10_000), torch.Generator().manual_seed(0))
    low, high = np.percentile(np.concatenate([samples, real[:, 0].numpy()]), [0.1, 99.9])
    margin = 0.1 * (high - low)
    bins = np.linspace(low - margin, high + margin, 120)
    axes.hist(samples, bins=bins, density=True, alpha=0.6, color=FAKE_COLOUR, label="G(z)")
    if data.density is not None:
        grid = torch.linspace(bins[0], bins[-1], 800, dtype=torch.float64)[:, None]
        axes.plot(
            grid[:, 0], data.density.log_prob(grid).exp(), color=REAL_COLOUR, label="p_data (exact)"
        )
    else:
        axes.hist(
            real[:, 0].numpy(),
            bins=bins,
            density=True,
            histtype="step",
            color=REAL_COLOUR,
            label="real",
        )
    axes.set(xlabel="x", ylabel="density")
    axes.legend()


def _scatter(axes: plt.Axes, samples: np.ndarray, data: VectorData) -> None:
    if data.density is not None and data.dim == 2:
        span = np.abs(data.density.means.numpy()).max() + 4 * data.density.stds.max().item() + 0.5
        ticks = torch.linspace(-span, span, 300, dtype=torch.float64)
        xx, yy = torch.meshgrid(ticks, ticks, indexing="xy")
        log_density = data.density.log_prob(torch.stack([xx.ravel(), yy.ravel()], 1))
        levels = log_density.max().item() - np.array([12.0, 8.0, 4.5, 2.0])  # 4.9, 4, 3, 2 sigma
        axes.contour(
            xx, yy, log_density.reshape(xx.shape), levels=levels, colors=REAL_COLOUR, linewidths=0.7
        )
        axes.plot([], [], color=REAL_COLOUR, lw=0.7, label="p_data (exact contours)")
        axes.set(xlim=(-span, span), ylim=(-span, span))
    else:
        real = data.real_samples(len(samples), torch.Generator().manual_seed(0)).numpy()
        axes.scatter(real[:, 0], real[:, 1], s=3, alpha=0.4, color=REAL_COLOUR, label="real")
    axes.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.5, color=FAKE_COLOUR, label="G(z)")
    axes.set(xlabel="x1", ylabel="x2", aspect="equal")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8)


def save_figure(figure: plt.Figure, path: Target, dpi: int = 110) -> Target:
    """Write the figure as a PNG (a file, whole or not at all, or a binary stream) and close it."""
    figure.tight_layout()
    if isinstance(path, Path):
        png = io.BytesIO()
        figure.savefig(png, dpi=dpi, format="png")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, png.getvalue())
    else:
        figure.savefig(path, dpi=dpi, format="png")
    plt.close(figure)
    return path


def plot_study_accuracy(
    rows: Sequence[dict[str, Any]], classifiers: Sequence[str], path: Path
) -> None:
    """``gankit augment``'s result: held-out accuracy against the fraction of real training
    data, one panel per classifier, one line per training regime, 95% intervals as error
    bars."""
    figure, axes = plt.subplots(
        1, len(classifiers), figsize=(4.6 * len(classifiers), 4), squeeze=False
    )
    regimes = list(dict.fromkeys(row["regime"] for row in rows))
    for axis, classifier in zip(axes[0], classifiers, strict=True):
        for index, regime in enumerate(regimes):
            chosen = [r for r in rows if r["classifier"] == classifier and r["regime"] == regime]
            fractions = np.array([r["fraction"] for r in chosen])
            intervals = [r["accuracy"] for r in chosen]
            style = "--" if "vae" in regime else "-"
            _interval_line(axis, fractions, intervals, index, len(regimes), regime, style)
        _log_axis(
            axis, sorted({r["fraction"] for r in rows}), "fraction of the real training images"
        )
        axis.set_title(classifier)
    axes[0][0].set_ylabel("held-out accuracy (%)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    save_figure(figure, path)


def plot_vae_loss(losses: Sequence[float], path: Target) -> None:
    """The VAE's training loss, -ELBO per image, against the step, with its running mean."""
    window = max(1, len(losses) // 50)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    figure, axis = plt.subplots(figsize=(6, 3.6))
    axis.plot(np.arange(1, len(losses) + 1), losses, color="lightgrey", lw=0.6, label="minibatch")
    axis.plot(np.arange(window, len(losses) + 1), smooth, label=f"mean of {window} steps")
    axis.set(xlabel="step", ylabel="-ELBO (nats per image)", title="VAE training loss")
    axis.legend(fontsize=8)
    save_figure(figure, path)


def plot_pr_curves(
    curves: dict[float, dict[str, tuple[np.ndarray, np.ndarray]]], rare_share: float, path: Path
) -> None:
    """Precision against recall of the rare class on the held-out rows, one panel per
    prevalence, one curve per training regime (``curves[prevalence][regime] = (is_rare,
    scores)``); the dotted line is a classifier that guesses (precision = the rare share)."""
    from sklearn.metrics import precision_recall_curve

    figure, axes = plt.subplots(1, len(curves), figsize=(4.4 * len(curves), 4), squeeze=False)
    for axis, (prevalence, by_regime) in zip(axes[0], curves.items(), strict=True):
        for regime, (is_rare, scores) in by_regime.items():
            precision, recall, _ = precision_recall_curve(is_rare, scores)
            axis.step(recall, precision, where="post", lw=1.2, label=regime)
        axis.axhline(rare_share, color="grey", ls=":", lw=1)
        axis.set(xlabel="recall", title=f"prevalence {prevalence:g}", xlim=(0, 1), ylim=(0, 1.02))
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("precision")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    save_figure(figure, path)


def plot_gains(
    rows: Sequence[dict[str, Any]], classifiers: Sequence[str], metric: str, path: Path
) -> None:
    """Each regime's gain in ``metric`` over real only, against the prevalence, one panel per
    classifier, 95% paired intervals as error bars (``rows`` as the rare-event study's)."""
    figure, axes = plt.subplots(
        1, len(classifiers), figsize=(4.6 * len(classifiers), 4), squeeze=False
    )
    regimes = [r for r in dict.fromkeys(row["regime"] for row in rows) if r != "real"]
    for axis, classifier in zip(axes[0], classifiers, strict=True):
        for index, regime in enumerate(regimes):
            chosen = [r for r in rows if r["classifier"] == classifier and r["regime"] == regime]
            prevalence = np.array([r["prevalence"] for r in chosen])
            gains = [r[f"{metric}_gain"] for r in chosen]
            style = "-" if "gan" in regime else "--"
            _interval_line(axis, prevalence, gains, index, len(regimes), regime, style)
        axis.axhline(0, color="black", lw=0.8)
        _log_axis(axis, sorted({r["prevalence"] for r in rows}), "prevalence of the rare class")
        axis.set_title(classifier)
    name = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC"}.get(metric, metric)
    axes[0][0].set_ylabel(f"{name} gain over real only (points)")
    axes[0][-1].legend(fontsize=7)
    save_figure(figure, path)


def _interval_line(
    axis: plt.Axes,
    x: np.ndarray,
    intervals: Sequence[dict[str, float]],
    index: int,
    count: int,
    label: str,
    style: str,
) -> None:
    """One line of means (x 100) with their intervals as error bars, the ``index``-th of
    ``count``: a small offset along a log x axis keeps the lines' bars apart."""
    mean, low, high = (np.array([i[k] for i in intervals]) * 100 for k in ("mean", "low", "high"))
    offset = x * 1.04 ** (index - (count - 1) / 2)
    yerr = np.nan_to_num([mean - low, high - mean])
    axis.errorbar(offset, mean, yerr=yerr, marker="o", ms=3.5, capsize=2.5, label=label, ls=style)


def _log_axis(axis: plt.Axes, ticks: Sequence[float], label: str) -> None:
    """A log x axis labelled at ``ticks`` as plain numbers, with a light grid."""
    axis.set(xscale="log", xlabel=label)
    axis.set_xticks(ticks)
    axis.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.grid(alpha=0.3)
