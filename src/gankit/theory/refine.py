"""Check 5: D corrects G. Since p_data(x) = p_g(x) D*(x) / (1 - D*(x)) = p_g(x) exp(l*(x)),
accepting a sample x of p_g with probability exp(l*(x) - max l*) leaves samples of p_data.

On the problems of check 1, with p_g known, samples of p_g are rejected three ways: not at all
(plain G), by the exact D* (exact rejection sampling, DRS with gamma = 0), and by an MLP D
trained on L_D against p_g (check 1's D). The Jensen-Shannon divergence between each set of
samples and p_data is estimated on a histogram, beside the same estimate for samples drawn from
p_data itself (the estimator's floor: what finitely many perfect samples score).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import stats

from gankit.data.mixtures import GaussianMixture
from gankit.output.figures import FAKE_COLOUR, REAL_COLOUR, save_figure
from gankit.sampling import RefineSettings
from gankit.sampling.rejection import discriminator_rejection
from gankit.theory.exact import to_numpy
from gankit.theory.optimal_d import FAST, PROBLEMS, Schedule, train_discriminator
from gankit.theory.problems import Problem
from gankit.theory.result import CheckResult, Column

SAMPLES = 20_000
BINS = 60
FLOOR_DRAWS = 5

COLUMNS = [
    Column("problem", "problem"),
    Column("method", "rejection by"),
    Column("acceptance", "acceptance", ".3f"),
    Column("js", "JS(samples, p_data)", ".5f"),
    Column("floor", "floor (p_data's own samples)", ".5f"),
]


def bin_probabilities(density: GaussianMixture, edges: np.ndarray) -> np.ndarray:
    """The probability of each histogram bin under a 1D mixture, from its exact CDF."""
    means, stds = to_numpy(density.means[:, 0]), to_numpy(density.stds[:, 0])
    weights = to_numpy(density.weights)
    cdf = sum(w * stats.norm.cdf(edges, m, s) for w, m, s in zip(weights, means, stds, strict=True))
    return np.diff(cdf)


def histogram_js(samples: np.ndarray, density: GaussianMixture, edges: np.ndarray) -> float:
    """JS between the samples' histogram and the density's bin probabilities (natural log).

    Both are renormalised over the bins, which span all but a negligible tail of p_data.
    """
    counts = np.histogram(np.clip(samples, edges[0], edges[-1]), edges)[0].astype(float)
    q, p = counts / counts.sum(), bin_probabilities(density, edges)
    p = p / p.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        kept = a > 0
        return float((a[kept] * np.log(a[kept] / m[kept])).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def correct(problem: Problem, logit: Any, seed: int) -> tuple[np.ndarray, float]:
    """SAMPLES of p_g kept by exact rejection on ``logit`` (gamma = 0), and the acceptance."""
    rng = torch.Generator().manual_seed(seed)

    def propose(count: Any) -> torch.Tensor:
        return problem.p_g.sample(count, rng).float()

    samples, report = discriminator_rejection(
        propose, logit, SAMPLES, None, rng, RefineSettings(gamma=0.0)
    )
    return samples[:, 0].numpy(), report["acceptance_rate"]


def check_problem(name: str, problem: Problem, schedule: Schedule) -> list[dict[str, Any]]:
    """Plain G, the exact D* and a trained D on one problem: the table's rows."""
    data = problem.p_data
    low = float((data.means[:, 0] - 5 * data.stds[:, 0]).min())
    high = float((data.means[:, 0] + 5 * data.stds[:, 0]).max())
    edges = np.linspace(low, high, BINS + 1)
    rng = torch.Generator().manual_seed(0)
    floor = np.mean(
        [histogram_js(data.sample(SAMPLES, rng)[:, 0].numpy(), data, edges) for _ in range(5)]
    )

    def exact_logit(x: torch.Tensor, labels: Any = None) -> torch.Tensor:
        return (data.log_prob(x.double()) - problem.p_g.log_prob(x.double())).float()

    discriminator = train_discriminator(problem, schedule)

    @torch.no_grad()
    def trained_logit(x: torch.Tensor, labels: Any = None) -> torch.Tensor:
        return discriminator(x).reshape(-1)

    plain = problem.p_g.sample(SAMPLES, rng)[:, 0].numpy()
    rows = [{"problem": name, "method": "nothing (plain G)", "acceptance": 1.0, "samples": plain}]
    for method, logit in (("exact D*", exact_logit), ("trained D", trained_logit)):
        samples, acceptance = correct(problem, logit, seed=1)
        rows.append(
            {"problem": name, "method": method, "acceptance": acceptance, "samples": samples}
        )
    for row in rows:
        row["js"] = histogram_js(row["samples"], data, edges)
        row["floor"] = float(floor)
    return rows


def run(out: Path, fast: bool = False) -> CheckResult:
    """Every problem of check 1, and the figure of the bimodal one."""
    schedule = FAST if fast else Schedule()
    rows = [
        row for name, problem in PROBLEMS.items() for row in check_problem(name, problem, schedule)
    ]
    figure = plot_correction(PROBLEMS["bimodal"], [r for r in rows if r["problem"] == "bimodal"])
    for row in rows:
        del row["samples"]
    return CheckResult(
        check="refine",
        title="Samples of p_g rejected by D, against p_data (exact rejection: gamma = 0)",
        columns=COLUMNS,
        rows=rows,
        figures=[save_figure(figure, out / "refine.png", dpi=100)],
        notes=[
            f"{SAMPLES:,} samples each; JS on {BINS} bins over p_data's support (5 std); floor: "
            f"the mean over {FLOOR_DRAWS} draws of {SAMPLES:,} samples of p_data itself"
        ],
    )


def plot_correction(problem: Problem, rows: list[dict[str, Any]]) -> plt.Figure:
    """p_g, p_data, and the histograms of p_g's samples kept by D* and by the trained D."""
    grid = torch.linspace(-5.0, 5.0, 500, dtype=torch.float64)[:, None]
    x = to_numpy(grid[:, 0])
    figure, axes = plt.subplots(1, len(rows), figsize=(4 * len(rows), 3.4), sharey=True)
    for panel, row in zip(axes, rows, strict=True):
        panel.hist(
            row["samples"],
            bins=80,
            range=(-5, 5),
            density=True,
            color=FAKE_COLOUR,
            alpha=0.35,
            label="samples kept",
        )
        panel.plot(
            x,
            to_numpy(problem.p_g.log_prob(grid).exp()),
            color=FAKE_COLOUR,
            lw=1,
            ls="--",
            label="p_g",
        )
        panel.plot(
            x,
            to_numpy(problem.p_data.log_prob(grid).exp()),
            color=REAL_COLOUR,
            lw=1.5,
            label="p_data",
        )
        panel.set(xlabel="x", title=f"{row['method']}: JS {row['js']:.4f}")
    axes[0].legend(fontsize=8)
    return figure
