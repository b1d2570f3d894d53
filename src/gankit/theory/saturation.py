"""Check 4: why G minimises -log D(G(z)) rather than log(1 - D(G(z))).

With l = logit D(G(z)), the two generator losses differ in their slope in l:

    minimax         d/dl  log(1 - sigmoid(l)) = -sigmoid(l)      = -D(G(z))      -> 0
    non-saturating  d/dl -log sigmoid(l)      = -(1 - sigmoid(l)) = -(1 - D(G(z))) -> -1

Early in training D rejects G's samples confidently, D(G(z)) -> 0, so the minimax gradient
vanishes with D(G(z)) while the non-saturating one keeps its full size. Here a fresh G is
held fixed while gankit's trainer takes D steps against it, and both gradients of G's
parameters are measured as D grows confident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

from gankit.config import load_config
from gankit.data import load_data
from gankit.objectives import minimax_generator_loss, nonsaturating_generator_loss
from gankit.output.figures import FAKE_COLOUR, REAL_COLOUR, save_figure
from gankit.theory.result import CheckResult, Column
from gankit.training.engine import Trainer, build_trainer

SETTINGS = {
    "data": "mixture1d",
    "r1": 0.0,  # no penalty on D's slope: let it become as confident as it can
    "batch_size": 256,
    "generator.activation": "leaky_relu",  # pinned: the check must not drift with the defaults
    "generator.batch_norm": False,
    "ema": 0.0,
    "lr_decay": "constant",
    "progress": False,
    "generator.hidden": [64, 64],
    "discriminator.hidden": [64, 64],
    "discriminator.lr": 2e-3,
}
NOISE_SAMPLES = 4096
TABLE_STEPS = (0, 25, 50, 100, 200, 400, 600)
FAST_TABLE_STEPS = (0, 50, 150, 300)


@dataclass(frozen=True)
class Measurement:
    """G's gradient norm under both losses, for D after ``d_steps`` steps against the fixed G."""

    d_steps: int
    d_fake: float
    logit: float
    minimax: float
    nonsaturating: float


def gradient_norm(
    loss: Callable[[Tensor], Tensor], generator: nn.Module, fake_logits: Tensor
) -> float:
    """||d loss / d theta_G||_2 for a loss of D's logits on G's samples."""
    gradients = torch.autograd.grad(
        loss(fake_logits), list(generator.parameters()), retain_graph=True
    )
    return torch.cat([g.flatten() for g in gradients]).norm().item()


def measure(trainer: Trainer, noise: Tensor, d_steps: int) -> Measurement:
    """Mean D(G(z)), mean logit, and both gradient norms on the same noise."""
    fake_logits = trainer.discriminator(trainer.generator(noise))
    return Measurement(
        d_steps=d_steps,
        d_fake=fake_logits.sigmoid().mean().item(),
        logit=fake_logits.mean().item(),
        minimax=gradient_norm(minimax_generator_loss, trainer.generator, fake_logits),
        nonsaturating=gradient_norm(nonsaturating_generator_loss, trainer.generator, fake_logits),
    )


def confident_discriminator(record_at: set[int], seed: int = 0) -> tuple[list[Measurement], Tensor]:
    """Train D against a fresh, fixed G with gankit's trainer; measure at the given D steps.

    Returns the measurements and the logits of D on G's samples at the end.
    """
    config = load_config(base={**SETTINGS, "seed": seed})
    data = load_data(config)
    with torch.random.fork_rng():  # seed the initial weights, leave the caller's stream alone
        trainer = build_trainer(config, data)
    noise = trainer.sample_noise(NOISE_SAMPLES, torch.Generator().manual_seed(config.seed + 2))
    measurements = []
    for d_steps in range(max(record_at) + 1):
        if d_steps > 0:
            trainer.discriminator_step()  # G is never stepped
        if d_steps in record_at:
            measurements.append(measure(trainer, noise, d_steps))
    with torch.no_grad():
        final_logits = trainer.discriminator(trainer.generator(noise))
    return measurements, final_logits


def loss_slopes(logits: Tensor) -> dict[str, Tensor]:
    """|d loss / d l| per sample at each logit l, by autograd through both generator losses."""
    slopes = {}
    for name, loss in (
        ("minimax", minimax_generator_loss),
        ("nonsaturating", nonsaturating_generator_loss),
    ):
        logits = logits.detach().requires_grad_()
        (gradient,) = torch.autograd.grad(loss(logits), logits)
        slopes[name] = (gradient * len(logits)).abs()  # each loss is a mean over the batch
    return slopes


COLUMNS = [
    Column("d_steps", "D steps"),
    Column("d_fake", "mean D(G(z))", ".2e"),
    Column("logit", "mean logit", ".2f"),
    Column("minimax", "|grad| minimax", ".3e"),
    Column("nonsaturating", "|grad| non-sat", ".3e"),
    Column("ratio", "minimax/non-sat", ".1e"),
]


def run(out: Path, fast: bool = False) -> CheckResult:
    """Both gradient norms as D grows confident, as a table and a plot."""
    table_steps = FAST_TABLE_STEPS if fast else TABLE_STEPS
    curve_steps = set(range(0, max(table_steps) + 1, 10)) | set(table_steps)
    measurements, final_logits = confident_discriminator(curve_steps)
    rows = [
        {**vars(m), "ratio": m.minimax / m.nonsaturating}
        for m in measurements
        if m.d_steps in table_steps
    ]
    return CheckResult(
        check="saturation",
        title="G's gradient under E[log(1 - D(G(z)))] and -E[log D(G(z))] as D rejects a fresh G",
        columns=COLUMNS,
        rows=rows,
        figures=[plot_saturation(measurements, final_logits, out / "saturation.png")],
        notes=[
            f"mixture1d, fresh G held fixed; D trained by gankit's Trainer (Adam lr "
            f"{SETTINGS['discriminator.lr']:g}, no R1); |grad| = L2 norm over all of G's "
            f"parameters on the same {NOISE_SAMPLES} noise samples."
        ],
    )


def plot_saturation(measurements: list[Measurement], final_logits: Tensor, path: Path) -> Path:
    """Gradient norms and mean D(G(z)) against D's steps; |d loss / d logit| against the logit."""
    figure, (norms, slopes) = plt.subplots(1, 2, figsize=(10, 3.8))
    steps = [m.d_steps for m in measurements]
    norms.semilogy(
        steps,
        [m.nonsaturating for m in measurements],
        color=REAL_COLOUR,
        label="||grad||, non-saturating -E log D(G(z))",
    )
    norms.semilogy(
        steps,
        [m.minimax for m in measurements],
        color=FAKE_COLOUR,
        label="||grad||, minimax E log(1 - D(G(z)))",
    )
    norms.semilogy(steps, [m.d_fake for m in measurements], "k:", label="mean D(G(z))")
    norms.set(
        xlabel="D steps against a fixed, fresh G", title="G's gradient norm as D grows confident"
    )
    norms.legend(fontsize=8, loc="center right")

    sweep = torch.linspace(-12.0, 4.0, 400)
    measured = loss_slopes(sweep)
    slopes.semilogy(
        sweep, measured["nonsaturating"], color=REAL_COLOUR, label="non-saturating: 1 - D"
    )
    slopes.semilogy(sweep, measured["minimax"], color=FAKE_COLOUR, label="minimax: D")
    fakes = slopes.twinx()
    fakes.hist(final_logits.numpy(), bins=40, color="grey", alpha=0.3)
    fakes.set(yticks=[])
    slopes.plot([], [], color="grey", alpha=0.3, lw=6, label="logits of G(z), last D")
    slopes.set(
        xlabel="logit l = log D/(1 - D)",
        ylabel="|d L_G / d l| per sample",
        title="slope of each loss in D's logit",
    )
    slopes.legend(fontsize=8, loc="lower right")
    return save_figure(figure, path, dpi=100)
