"""Check 1: a discriminator trained against a fixed p_g approaches D* = p_data / (p_data + p_g).

For fixed G, L_D = -E_pdata[log D] - E_pg[log(1 - D)] is minimised pointwise by D*(x): the
integrand -p_data log D - p_g log(1 - D) has its minimum at D = p_data / (p_data + p_g). So
an MLP trained with L_D on fresh samples of both densities (and nothing else: no R1, no G
step) should land on D*, and -L_D, the Monte Carlo estimate of V(D, G), on V(D*, G).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch.nn.functional import softplus

from gankit.nets.mlp import MLPDiscriminator
from gankit.objectives import discriminator_loss
from gankit.output.figures import FAKE_COLOUR, REAL_COLOUR, save_figure
from gankit.supervised import fit
from gankit.theory.exact import (
    integrate,
    integration_grid,
    optimal_discriminator,
    support_mask,
    to_numpy,
    value_at_optimum,
)
from gankit.theory.problems import BIMODAL, Problem, gaussian
from gankit.theory.result import CheckResult, Column

PROBLEMS = {
    "shift": Problem(gaussian(0.0, 1.0), gaussian(1.0, 1.0)),
    "wider": Problem(gaussian(0.0, 1.0), gaussian(0.5, 1.5)),
    "bimodal": Problem(BIMODAL, gaussian(0.0, 1.5)),
}
"""D* is a sigmoid of a line (shift), of a parabola (wider), and has two bumps (bimodal)."""


@dataclass(frozen=True)
class Schedule:
    """How D is trained: Adam on L_D with the learning rate decaying linearly to 0."""

    steps: int = 3000
    batch_size: int = 512
    hidden: tuple[int, ...] = (64, 64, 64)
    lr: float = 1e-3


FAST = Schedule(steps=1000, hidden=(32, 32), lr=2e-3)
MONTE_CARLO_SAMPLES = 200_000


def train_discriminator(problem: Problem, schedule: Schedule, seed: int = 0) -> MLPDiscriminator:
    """An MLP D trained only on L_D, each step on fresh samples of p_data and of the fixed p_g."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # the initial weights
        discriminator = MLPDiscriminator(1, list(schedule.hidden))
    rng = torch.Generator().manual_seed(seed)
    batches = (
        (
            problem.p_data.sample(schedule.batch_size, rng),
            problem.p_g.sample(schedule.batch_size, rng),
        )
        for _ in range(schedule.steps)
    )
    fit(
        discriminator,
        lambda batch: discriminator_loss(discriminator(batch[0]), discriminator(batch[1])),
        batches,
        lr=schedule.lr,
        # Annealing the step size to 0 removes most of the minibatch noise from the final D.
        lr_factor=lambda step: 1 - step / schedule.steps,
        name="discriminator",
    )
    return discriminator


@torch.no_grad()
def monte_carlo_value(
    discriminator: MLPDiscriminator, problem: Problem, n: int, seed: int = 1
) -> tuple[float, float]:
    """V(D, G) = E_pdata[log D] + E_pg[log(1 - D)] on n fresh samples of each, and its std error."""
    rng = torch.Generator().manual_seed(seed)
    log_d_real = -softplus(-discriminator(problem.p_data.sample(n, rng)).double())  # log D(x)
    log_one_minus_d_fake = -softplus(discriminator(problem.p_g.sample(n, rng)).double())
    value = log_d_real.mean() + log_one_minus_d_fake.mean()
    error = ((log_d_real.var() + log_one_minus_d_fake.var()) / n).sqrt()
    return value.item(), error.item()


def compare(problem: Problem, discriminator: MLPDiscriminator) -> dict[str, Any]:
    """|D - D*| on the grid points where (p_data + p_g)/2 > 1e-3 of its max, and V three ways."""
    grid = integration_grid(problem.p_data, problem.p_g)
    log_p_data, log_p_g = problem.p_data.log_prob(grid), problem.p_g.log_prob(grid)
    support = support_mask(log_p_data, log_p_g)
    with torch.no_grad():
        logits = discriminator(grid.float()).double()
    error = (logits.sigmoid() - optimal_discriminator(log_p_data, log_p_g))[support].abs()
    # V(D, G) = int p_data log D + p_g log(1 - D); log D = -softplus(-l), log(1 - D) = -softplus(l)
    value_trained = integrate(
        log_p_data.exp() * -softplus(-logits) + log_p_g.exp() * -softplus(logits), grid
    )
    value_exact = value_at_optimum(log_p_data, log_p_g, grid)
    value, value_error = monte_carlo_value(discriminator, problem, MONTE_CARLO_SAMPLES)
    return {
        "mean_abs_error": error.mean().item(),
        "max_abs_error": error.max().item(),
        "support": [grid[support].min().item(), grid[support].max().item()],
        "value_monte_carlo": value,
        "value_monte_carlo_stderr": value_error,
        "value_quadrature": value_trained,
        "value_exact": value_exact,
        "value_gap": value_exact - value_trained,
    }


COLUMNS = [
    Column("problem", "problem"),
    Column("p_data_vs_p_g", "p_data vs p_g"),
    Column("mean_abs_error", "mean|D-D*|", ".4f"),
    Column("max_abs_error", "max|D-D*|", ".4f"),
    Column("value_monte_carlo", "V(D,G) MC", ".5f"),
    Column("value_monte_carlo_stderr", "+-", ".5f"),
    Column("value_quadrature", "V(D,G) quad", ".5f"),
    Column("value_exact", "V(D*,G)", ".5f"),
    Column("value_gap", "V(D*,G)-V(D,G)", ".1e"),
]


def run(out: Path, fast: bool = False) -> CheckResult:
    """Train D on each problem of PROBLEMS and compare it with D*; one panel per problem."""
    schedule = FAST if fast else Schedule()
    rows, trained = [], []
    for name, problem in PROBLEMS.items():
        discriminator = train_discriminator(problem, schedule)
        rows.append(
            {"problem": name, "p_data_vs_p_g": problem.label, **compare(problem, discriminator)}
        )
        trained.append(discriminator)
    return CheckResult(
        check="optimal-d",
        title="D trained on L_D against a fixed p_g, beside D* = sigmoid(log p_data - log p_g)",
        columns=COLUMNS,
        rows=rows,
        figures=[plot_discriminators(trained, rows, out / "optimal_d.png")],
        notes=[
            f"D: MLP {list(schedule.hidden)}, Adam lr {schedule.lr:g} decaying to 0, "
            f"{schedule.steps} steps on {schedule.batch_size} fresh samples of each density.",
            "|D - D*| on the grid points where (p_data + p_g)/2 > 1e-3 of its maximum.",
            f"V(D,G) MC = -L_D on {MONTE_CARLO_SAMPLES} fresh samples of each (+- std error); "
            "V(D,G) quad and V(D*,G) by quadrature; V(D,G) <= V(D*,G) for every D.",
        ],
    )


def plot_discriminators(
    discriminators: list[MLPDiscriminator], rows: list[dict[str, Any]], path: Path
) -> Path:
    """Per problem: D(x) and D*(x) on [0, 1], p_data and p_g behind them on a second axis."""
    figure, panels = plt.subplots(1, len(PROBLEMS), figsize=(4.2 * len(PROBLEMS), 3.6))
    for axes, problem, discriminator, row in zip(
        panels, PROBLEMS.values(), discriminators, rows, strict=True
    ):
        low, high = row["support"]
        grid = torch.linspace(low - 0.5, high + 0.5, 500, dtype=torch.float64)[:, None]
        x = to_numpy(grid[:, 0])
        log_p_data, log_p_g = problem.p_data.log_prob(grid), problem.p_g.log_prob(grid)
        densities = axes.twinx()
        densities.fill_between(x, to_numpy(log_p_data.exp()), color=REAL_COLOUR, alpha=0.15)
        densities.fill_between(x, to_numpy(log_p_g.exp()), color=FAKE_COLOUR, alpha=0.15)
        densities.set(ylim=(0, None), yticks=[])
        axes.plot(
            x,
            to_numpy(optimal_discriminator(log_p_data, log_p_g)),
            "k",
            lw=3,
            alpha=0.35,
            label="D* (exact)",
        )
        axes.plot(
            x, to_numpy(discriminator.probability(grid.float())), "k--", lw=1, label="D (trained)"
        )
        axes.fill_between([], [], color=REAL_COLOUR, alpha=0.15, label="p_data")
        axes.fill_between([], [], color=FAKE_COLOUR, alpha=0.15, label="p_g")
        axes.set_zorder(densities.get_zorder() + 1)
        axes.patch.set_visible(False)
        axes.set(
            xlabel="x",
            ylim=(0, 1.02),
            title=f"{row['problem']}: mean |D - D*| = {row['mean_abs_error']:.4f}",
        )
        axes.legend(fontsize=7, loc="upper right")
    return save_figure(figure, path, dpi=100)
