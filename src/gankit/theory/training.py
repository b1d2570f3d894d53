"""Check 3: a GAN trained on a 1D mixture, watched against the theory as it goes.

At each snapshot G's density p_g is estimated by a Gaussian kernel density estimate of its
samples, and beside the exact p_data the check draws D(x) = sigmoid(l(x)) and the optimal
D*(x) = sigmoid(log p_data - log p_g) for that estimate. It records JS(p_data || p_g) by
quadrature against the estimate, -log 4 + 2 JS (= V(D*, G)), and the Monte Carlo value
V(D, G) = -L_D of the current D on samples that training never sees. As G learns p_data,
JS falls toward 0 and both values toward -log 4.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import gaussian_kde
from torch import Tensor

from gankit.config import load_config
from gankit.data import load_data
from gankit.objectives import discriminator_loss
from gankit.output.figures import FAKE_COLOUR, REAL_COLOUR, save_figure
from gankit.theory.exact import (
    TAIL_STDS,
    integration_grid,
    jensen_shannon,
    minus_log_4_plus_2_js,
    optimal_discriminator,
    support_mask,
    to_numpy,
)
from gankit.theory.result import CheckResult, Column
from gankit.training.engine import Trainer, build_trainer

SETTINGS: dict[str, Any] = {
    "data": "mixture1d",  # 0.5 N(-2, 0.3) + 0.5 N(2, 0.3) by default
    "steps": 3000,
    "loss": "nonsaturating",
    "r1": 0.1,
    "batch_size": 256,
    "generator.activation": "leaky_relu",  # pinned: the check must not drift with the defaults
    "generator.batch_norm": False,
    "r1_every": 1,
    "ema": 0.0,  # snapshots show the G that D is playing against, not its average
    "progress": False,
    "generator.hidden": [64, 64],
    "discriminator.hidden": [64, 64],
}
FAST_SETTINGS: dict[str, Any] = {
    **SETTINGS,
    "steps": 150,
    "generator.hidden": [16, 16],
    "discriminator.hidden": [16, 16],
}
SNAPSHOTS, FAST_SNAPSHOTS = 10, 3
KDE_SAMPLES = 5000
KDE_BANDWIDTH = 0.05
"""scipy's bandwidth factor: kernel std = 0.05 x the samples' std. Scott's rule (0.18 for
5000 samples) would blur modes of std 0.3 that lie 4 apart; the floor this estimate leaves
even for a perfect G, JS(p_data || KDE of real samples), is measured and reported."""
GRID_POINTS = 2001


@dataclass
class Snapshot:
    """The state of the game at one step, on a grid of x in data units."""

    step: int
    x: np.ndarray
    p_data: np.ndarray
    p_g: np.ndarray
    d: np.ndarray
    d_star: np.ndarray
    support: np.ndarray  # where (p_data + p_g)/2 > 1e-3 of its maximum
    js: float
    value_monte_carlo: float
    d_real: float
    d_fake: float
    mean_abs_error: float

    def row(self) -> dict[str, Any]:
        """The numbers of this snapshot, as a row of the check's table."""
        return {
            "step": self.step,
            "js": self.js,
            "value_optimal": minus_log_4_plus_2_js(self.js),
            "value_monte_carlo": self.value_monte_carlo,
            "d_real": self.d_real,
            "d_fake": self.d_fake,
            "mean_abs_error": self.mean_abs_error,
        }


def kde_log_density(samples: Tensor, x: Tensor) -> Tensor:
    """log p_g(x) of the kernel density estimate of 1D samples, in float64 (scipy, log space)."""
    kde = gaussian_kde(to_numpy(samples[:, 0]), bw_method=KDE_BANDWIDTH)
    return torch.from_numpy(kde.logpdf(to_numpy(x[:, 0])))


def snapshot_grid(trainer: Trainer, fakes: Tensor) -> Tensor:
    """A grid over p_data's range (12 std past each mode) and over G's samples."""
    density = trainer.data.density
    low, high = integration_grid(density, points=2)[[0, -1], 0].tolist()
    margin = TAIL_STDS * KDE_BANDWIDTH * fakes.std().item()  # the KDE's own tails
    low, high = min(low, fakes.min().item() - margin), max(high, fakes.max().item() + margin)
    return torch.linspace(low, high, GRID_POINTS, dtype=torch.float64)[:, None]


@torch.no_grad()
def take_snapshot(trainer: Trainer, noise: Tensor, real: Tensor) -> Snapshot:
    """KDE of G's samples, D and D* on a grid, JS by quadrature and V(D, G) by Monte Carlo."""
    data, discriminator = trainer.data, trainer.discriminator
    fakes = data.standardizer.inverse(trainer.generator(noise)).double()
    grid = snapshot_grid(trainer, fakes)
    log_p_data, log_p_g = data.density.log_prob(grid), kde_log_density(fakes, grid)
    d = discriminator(data.standardizer.forward(grid.float())).sigmoid().double()
    d_star = optimal_discriminator(log_p_data, log_p_g)
    support = support_mask(log_p_data, log_p_g)
    real_logits = discriminator(data.standardizer.forward(real))
    fake_logits = discriminator(data.standardizer.forward(fakes.float()))
    return Snapshot(
        step=trainer.step,
        x=to_numpy(grid[:, 0]),
        p_data=to_numpy(log_p_data.exp()),
        p_g=to_numpy(log_p_g.exp()),
        d=to_numpy(d),
        d_star=to_numpy(d_star),
        support=support.numpy(),
        js=jensen_shannon(log_p_data, log_p_g, grid),
        value_monte_carlo=-discriminator_loss(real_logits, fake_logits).item(),  # V = -L_D
        d_real=real_logits.sigmoid().mean().item(),
        d_fake=fake_logits.sigmoid().mean().item(),
        mean_abs_error=(d - d_star)[support].abs().mean().item(),
    )


COLUMNS = [
    Column("step", "step"),
    Column("js", "JS(p_data||p_g)", ".4f"),
    Column("value_optimal", "-log4+2JS", ".4f"),
    Column("value_monte_carlo", "V(D,G) MC", ".4f"),
    Column("d_real", "mean D(x)", ".3f"),
    Column("d_fake", "mean D(G(z))", ".3f"),
    Column("mean_abs_error", "mean|D-D*|", ".3f"),
]


def train_with_snapshots(
    settings: dict[str, Any], snapshots: int
) -> tuple[list[Snapshot], float, float]:
    """Train with gankit's Trainer, snapshotting at step 0 and every steps/snapshots steps.

    Returns the snapshots, the KDE's floor JS(p_data || KDE of real samples), and seconds.
    """
    config = load_config(base=settings)
    config.log_every = max(1, config.steps // snapshots)
    config.eval_every = config.steps
    data = load_data(config)
    with torch.random.fork_rng():  # seed the initial weights, leave the caller's stream alone
        trainer = build_trainer(config, data)
    # Fixed noise and real samples for every snapshot, from streams training never touches.
    noise = trainer.sample_noise(KDE_SAMPLES, torch.Generator().manual_seed(config.seed + 2))
    real = data.density.sample(KDE_SAMPLES, torch.Generator().manual_seed(config.seed + 3))
    grid = integration_grid(data.density, points=GRID_POINTS)
    log_p_data = data.density.log_prob(grid)
    floor = jensen_shannon(log_p_data, kde_log_density(real.double(), grid), grid)

    started = time.perf_counter()
    taken = [take_snapshot(trainer, noise, real)]
    trainer.fit(
        config.steps, hooks=[lambda record: taken.append(take_snapshot(trainer, noise, real))]
    )
    return taken, floor, time.perf_counter() - started


def run(out: Path, fast: bool = False) -> CheckResult:
    """Train a GAN on mixture1d; a figure per snapshot, a summary figure, and a table."""
    settings = FAST_SETTINGS if fast else SETTINGS
    snapshots, floor, seconds = train_with_snapshots(
        settings, FAST_SNAPSHOTS if fast else SNAPSHOTS
    )
    figures = [plot_snapshot(s, out / f"training_step{s.step:05d}.png") for s in snapshots]
    figures.append(plot_summary(snapshots, floor, out / "training.png"))
    return CheckResult(
        check="training",
        title="a GAN on mixture1d: G's density (KDE), D against D*, JS and V over training",
        columns=COLUMNS,
        rows=[s.row() for s in snapshots],
        figures=figures,
        notes=[
            f"{settings['steps']} steps of gankit's Trainer, {settings['loss']} loss, "
            f"R1 {settings['r1']:g}, G and D MLPs {settings['generator.hidden']}: "
            f"{seconds:.1f} s with the snapshots.",
            f"p_g: Gaussian KDE of {KDE_SAMPLES} samples of G, bandwidth {KDE_BANDWIDTH:g} x "
            f"their std; its floor, JS(p_data || KDE of as many real samples) = {floor:.4f}.",
            "-log4+2JS = V(D*, G) for that p_g; V(D,G) MC = -L_D of the current D on those "
            f"samples and as many real ones; -log 4 = {-math.log(4):.4f}.",
        ],
    )


def draw_snapshot(axes: plt.Axes, snapshot: Snapshot, density_top: float) -> None:
    """p_data and the KDE of p_g behind (own axis), D and D* in front on [0, 1]."""
    densities = axes.twinx()
    densities.fill_between(snapshot.x, snapshot.p_data, color=REAL_COLOUR, alpha=0.2)
    densities.plot(snapshot.x, snapshot.p_g, color=FAKE_COLOUR, lw=1)
    densities.set(ylim=(0, density_top), ylabel="density")
    # D* only where p_data + p_g is not negligible: elsewhere it is a ratio of vanishing tails.
    d_star = np.where(snapshot.support, snapshot.d_star, np.nan)
    axes.plot(snapshot.x, d_star, "k", lw=3, alpha=0.35, label="D* for the KDE of p_g")
    axes.plot(snapshot.x, snapshot.d, "k--", lw=1, label="D (trained)")
    axes.fill_between([], [], color=REAL_COLOUR, alpha=0.2, label="p_data (exact)")
    axes.plot([], [], color=FAKE_COLOUR, lw=1, label="p_g (KDE of G's samples)")
    axes.set_zorder(densities.get_zorder() + 1)
    axes.patch.set_visible(False)
    axes.set(xlabel="x", ylabel="D(x)", ylim=(0, 1.02), xlim=plot_range(snapshot))
    axes.set_title(f"step {snapshot.step}: JS(p_data || p_g) = {snapshot.js:.4f}")
    axes.legend(fontsize=7, loc="upper left")


def plot_range(snapshot: Snapshot) -> tuple[float, float]:
    """Where p_data is above 1e-4 of its peak, plus a margin."""
    inside = snapshot.x[snapshot.p_data > 1e-4 * snapshot.p_data.max()]
    return inside.min() - 1.0, inside.max() + 1.0


def plot_snapshot(snapshot: Snapshot, path: Path) -> Path:
    """One snapshot as its own figure, on the same axes limits as every other snapshot."""
    figure, axes = plt.subplots(figsize=(7, 3.6))
    draw_snapshot(axes, snapshot, density_top=1.6 * snapshot.p_data.max())
    return save_figure(figure, path, dpi=100)


def plot_summary(snapshots: list[Snapshot], floor: float, path: Path) -> Path:
    """JS over training, both values against -log 4, and the last snapshot."""
    steps = [s.step for s in snapshots]
    figure, (divergence, value, last) = plt.subplots(1, 3, figsize=(15, 3.8))
    divergence.semilogy(
        steps, [s.js for s in snapshots], "o-", color=FAKE_COLOUR, label="JS(p_data || p_g), KDE"
    )
    divergence.axhline(
        floor, color="grey", lw=0.8, ls="--", label="floor: JS to a KDE of real samples"
    )
    divergence.set(xlabel="step", title="estimated JS(p_data || p_g)")
    divergence.legend(fontsize=8)
    value.plot(
        steps,
        [minus_log_4_plus_2_js(s.js) for s in snapshots],
        "o-",
        color=FAKE_COLOUR,
        label="V(D*, G) = -log 4 + 2 JS",
    )
    value.plot(
        steps,
        [s.value_monte_carlo for s in snapshots],
        "s--",
        color="k",
        ms=4,
        label="V(D, G) = -L_D (Monte Carlo)",
    )
    value.axhline(-math.log(4), color="grey", lw=0.8, ls="--", label="-log 4 (p_g = p_data)")
    value.set(xlabel="step", title="the value of the game")
    value.legend(fontsize=8)
    draw_snapshot(last, snapshots[-1], density_top=1.6 * snapshots[-1].p_data.max())
    return save_figure(figure, path, dpi=100)
