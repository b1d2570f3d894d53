"""Check 2: the value at the optimal discriminator, V(D*, G) = -log 4 + 2 JS(p_data || p_g).

Both sides are computed independently by quadrature: the left from log D* and log(1 - D*),
the right from the definition of JS through the midpoint m = (p_data + p_g)/2. With
p_g = p_data, D* = 1/2 everywhere and V = -log 4; as the supports separate, JS -> log 2 and
V -> 0, which stays finite and exact because nothing leaves log space.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from gankit.output.figures import REAL_COLOUR, save_figure
from gankit.theory.exact import (
    integration_grid,
    jensen_shannon,
    minus_log_4_plus_2_js,
    optimal_discriminator,
    support_mask,
    to_numpy,
    value_at_optimum,
)
from gankit.theory.problems import BIMODAL, Problem, describe, gaussian
from gankit.theory.result import CheckResult, Column

STANDARD = gaussian(0.0, 1.0)
CASES = [
    Problem(STANDARD, STANDARD),
    Problem(STANDARD, gaussian(1.0, 1.0)),
    Problem(STANDARD, gaussian(2.0, 1.0)),
    Problem(STANDARD, gaussian(4.0, 1.0)),
    Problem(STANDARD, gaussian(12.0, 1.0)),
    Problem(STANDARD, gaussian(0.5, 1.5)),
    Problem(BIMODAL, BIMODAL),
    Problem(BIMODAL, gaussian(0.0, 1.5)),
    Problem(BIMODAL, gaussian(2.0, 0.5)),
]
"""p_g = p_data, Gaussians moving apart to barely overlapping, a wider p_g, and mixtures
(p_g covering both modes with one Gaussian, and p_g collapsed onto one mode)."""

COLUMNS = [
    Column("p_data", "p_data"),
    Column("p_g", "p_g"),
    Column("value", "V(D*,G)", ".7g"),
    Column("minus_log_4_plus_2_js", "-log4+2JS", ".7g"),
    Column("gap", "|gap|", ".1e"),
    Column("js", "JS", ".6f"),
    Column("d_star_min", "min D*", ".4f"),
    Column("d_star_max", "max D*", ".4f"),
]


def exact_value(problem: Problem) -> dict[str, Any]:
    """V(D*, G) and JS(p_data || p_g) by quadrature, and the range of D* on the support."""
    grid = integration_grid(problem.p_data, problem.p_g)
    log_p_data, log_p_g = problem.p_data.log_prob(grid), problem.p_g.log_prob(grid)
    value = value_at_optimum(log_p_data, log_p_g, grid)
    js = jensen_shannon(log_p_data, log_p_g, grid)
    d_star = optimal_discriminator(log_p_data, log_p_g)[support_mask(log_p_data, log_p_g)]
    return {
        "p_data": describe(problem.p_data),
        "p_g": describe(problem.p_g),
        "value": value,
        "minus_log_4_plus_2_js": minus_log_4_plus_2_js(js),
        "gap": abs(value - minus_log_4_plus_2_js(js)),
        "js": js,
        "d_star_min": d_star.min().item(),
        "d_star_max": d_star.max().item(),
    }


def run(out: Path, fast: bool = False) -> CheckResult:
    """The identity on every case in CASES, and its plot against the shift of p_g = N(mu, 1).

    Quadrature takes about a second, so ``fast`` changes nothing here.
    """
    rows = [exact_value(problem) for problem in CASES]
    return CheckResult(
        check="value",
        title="V(D*, G) by quadrature beside -log 4 + 2 JS(p_data || p_g) from JS's definition",
        columns=COLUMNS,
        rows=rows,
        figures=[plot_value(out / "value.png")],
        notes=[
            f"-log 4 = {-math.log(4):.6f}, log 2 = {math.log(2):.6f}; N(mean, std); "
            "D* range over the points where (p_data + p_g)/2 > 1e-3 of its maximum"
        ],
    )


def plot_value(path: Path) -> Path:
    """V(D*, G) and -log 4 + 2 JS against mu for p_g = N(mu, 1); and D* for a few mu."""
    shifts = np.linspace(0.0, 8.0, 81)
    values = [exact_value(Problem(STANDARD, gaussian(mu, 1.0))) for mu in shifts]
    figure, (curve, optimum) = plt.subplots(1, 2, figsize=(10, 3.6))
    curve.plot(shifts, [v["value"] for v in values], lw=3, alpha=0.5, label="V(D*, G) (quadrature)")
    curve.plot(
        shifts, [v["minus_log_4_plus_2_js"] for v in values], "k--", lw=1, label="-log 4 + 2 JS"
    )
    curve.axhline(-math.log(4), color="grey", lw=0.8, ls=":", label="-log 4 (p_g = p_data)")
    curve.axhline(0.0, color="grey", lw=0.8, ls="-.", label="0 (disjoint supports)")
    curve.set(xlabel="mu, with p_data = N(0, 1), p_g = N(mu, 1)", ylabel="value", title="V(D*, G)")
    curve.legend(fontsize=8)

    grid = torch.linspace(-4.0, 8.0, 600, dtype=torch.float64)[:, None]
    x, log_p_data = to_numpy(grid[:, 0]), STANDARD.log_prob(grid)
    optimum.fill_between(
        x, to_numpy(log_p_data.exp()), color=REAL_COLOUR, alpha=0.2, label="p_data"
    )
    for mu, colour in zip(
        (0.0, 1.0, 2.0, 4.0), plt.cm.Reds(np.linspace(0.35, 0.9, 4)), strict=True
    ):
        d_star = optimal_discriminator(log_p_data, gaussian(mu, 1.0).log_prob(grid))
        optimum.plot(x, to_numpy(d_star), color=colour, label=f"D*, mu = {mu:g}")
    optimum.set(xlabel="x", ylim=(0, 1.02), title="D*(x) = p_data / (p_data + p_g)")
    optimum.legend(fontsize=8)
    return save_figure(figure, path, dpi=100)
