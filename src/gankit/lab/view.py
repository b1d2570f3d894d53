"""What one frame of the lab shows, computed from the trainer's G and D on fixed inputs.

The noise of G's samples, the real samples and the grids are drawn once
per training (seeded), so that between two frames a picture changes only where G or D did.
Coordinates go to the page as integers in thousandths of a data unit, heatmaps as 0..255.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.data.mixtures import GaussianMixture
from gankit.lab.estimates import js_estimate, kde_log_density, kernel_width, value_estimate
from gankit.metrics.mixture import mode_coverage
from gankit.theory.exact import minus_log_4_plus_2_js, optimal_discriminator, support_mask
from gankit.training.engine import Trainer

GRID_2D = 36  # heatmap cells per side
GRID_1D = 240  # points of the curves in 1D
CONTOUR_GRID = 200  # p_data's grid per side in 2D, for its contours (drawn once per training)
FAKES = 256  # G's samples shown, and the samples of p_g's kernel density estimate
REAL = 256
ARROWS = 160  # the first this many fakes carry an arrow
MANIFOLD_LINES = 15
SCALE = 1000  # coordinates as integers: thousandths of a data unit
PROBABILITY_LOSSES = ("minimax", "nonsaturating", "lsgan")
"""Losses whose optimal D is D* = p_data / (p_data + p_g): for LSGAN (a=0, b=c=1) D(x) itself."""


def _integers(x: Tensor) -> list:
    return (x * SCALE).round().long().tolist()


def _bytes(x: Tensor) -> list:
    return (x.clamp(0, 1) * 255).round().long().tolist()


def _square_grid(bounds: list[tuple[float, float]], n: int) -> Tensor:
    """(n * n, 2) points, as an image's pixels: rows from the top (y high) down, each row from
    x low to x high."""
    (x_low, x_high), (y_low, y_high) = bounds
    ys = torch.linspace(y_high, y_low, n, dtype=torch.float64)
    xs = torch.linspace(x_low, x_high, n, dtype=torch.float64)
    return torch.cartesian_prod(ys, xs).flip(1)


class View:
    """The fixed inputs of the pictures of one training, and the frame of its current G and D."""

    def __init__(
        self,
        trainer: Trainer,
        problem: str,
        density: GaussianMixture,
        bounds: list[tuple[float, float]],
        modes: bool,
    ) -> None:
        self.trainer, self.problem, self.density = trainer, problem, density
        self.bounds, self.modes, self.dim = bounds, modes, density.dim
        self.real = density.sample(REAL, torch.Generator().manual_seed(trainer.config.seed + 10))
        self.draw_noise()
        self.min_width = 0.002 * max(high - low for low, high in bounds)
        if self.dim == 1:
            ((low, high),) = bounds
            self.grid = torch.linspace(low, high, GRID_1D, dtype=torch.float64)[:, None]
        else:
            self.grid = _square_grid(bounds, GRID_2D)
        self.log_p_data = density.log_prob(self.grid)

    def draw_noise(self) -> None:
        """The fixed noise of G's samples and of the manifold, from the prior."""
        rng = torch.Generator().manual_seed(self.trainer.config.seed + 11)
        self.noise = self.trainer.sample_noise(FAKES, rng)
        self.width: float | None = None  # the kernel's, searched afresh for new noise
        self.manifold_noise = self._manifold_noise()

    def _manifold_noise(self) -> Tensor:
        """A grid over the first two noise coordinates (the rest 0): lines of constant z_1 and
        of constant z_2; one line over z_1 when the noise has one coordinate or the data one."""
        noise = self.trainer.config.noise
        reach = 2.0 if noise.prior == "normal" else 1.0
        ticks = torch.linspace(-reach, reach, MANIFOLD_LINES)
        fine = torch.linspace(-reach, reach, 2 * MANIFOLD_LINES)
        if noise.dim == 1 or self.dim == 1:
            self.manifold_lines = 1
            z = torch.zeros(len(fine), noise.dim)
            z[:, 0] = fine
            return z
        self.manifold_lines = 2 * MANIFOLD_LINES
        z = torch.zeros(2 * MANIFOLD_LINES * len(fine), noise.dim)
        z[:, :2] = torch.cat(
            [
                torch.cartesian_prod(ticks, fine),  # z_1 fixed per line
                torch.cartesian_prod(ticks, fine).flip(1),  # z_2 fixed per line
            ]
        )
        return z

    def scene(self) -> dict[str, Any]:
        """What stays for the whole training: the problem, the bounds, real samples, p_data."""
        if self.dim == 1:
            p_data = self.log_p_data.exp()
        else:
            p_data = self.density.log_prob(_square_grid(self.bounds, CONTOUR_GRID)).exp()
        return {
            "problem": self.problem,
            "dim": self.dim,
            "bounds": self.bounds,
            "scale": SCALE,
            "grid": GRID_1D if self.dim == 1 else GRID_2D,
            "contour_grid": GRID_1D if self.dim == 1 else CONTOUR_GRID,
            "real": _integers(self.real),
            "p_data": _bytes(p_data / p_data.max()),
            "manifold_lines": self.manifold_lines,
            "modes": self.modes,
        }

    def d_view(self, logits: Tensor) -> Tensor:
        """D as a picture in [0, 1]: sigmoid(l) for the logistic losses, l itself for LSGAN,
        (l + 1)/2 for the hinge, and the critic's range stretched to [0, 1] for WGAN-GP."""
        loss = self.trainer.config.loss
        if loss in ("minimax", "nonsaturating"):
            return logits.sigmoid()
        if loss == "lsgan":
            return logits.clamp(0, 1)
        if loss == "hinge":
            return ((logits + 1) / 2).clamp(0, 1)
        return (logits - logits.min()) / (logits.max() - logits.min()).clamp_min(1e-12)

    def _discriminator(self, x: Tensor) -> Tensor:
        """D's logits at each point x (data units): with packing, x judged as a pack of copies."""
        trainer = self.trainer
        inside = trainer.data.standardizer.forward(x.float())
        inside = inside.repeat_interleave(trainer.config.pack, dim=0)
        return trainer.run_discriminator(inside, None, trainer.discriminator)

    def _generate(self, z: Tensor) -> Tensor:
        trainer = self.trainer
        return trainer.data.standardizer.inverse(trainer.generate(z, None)).double()

    def frame(self) -> dict[str, Any]:
        """The pictures and the numbers of G and D as they are now."""
        trainer = self.trainer
        with torch.no_grad():
            fakes = self._generate(self.noise)
            grid_logits = self._discriminator(self.grid).double()
            real_logits = self._discriminator(self.real).double()
            manifold = self._generate(self.manifold_noise)
        width = self.width = kernel_width(fakes, self.min_width, self.width)
        log_p_g = kde_log_density(fakes, self.grid, width)
        d_star = optimal_discriminator(self.log_p_data, log_p_g)
        d = self.d_view(grid_logits)
        arrows, fake_logits = self._gradients(fakes)
        js = js_estimate(self.density, self.real, fakes, width)
        stats: dict[str, Any] = {
            "js": js,
            "value_optimum": minus_log_4_plus_2_js(js),
            "value": value_estimate(real_logits, fake_logits),
            "d_gap": None,
            "grad_g": float(arrows.norm(dim=1).mean()),
        }
        if trainer.config.loss in PROBABILITY_LOSSES:
            support = support_mask(self.log_p_data, log_p_g)
            stats["d_gap"] = float((d - d_star)[support].abs().mean())
        if self.modes:
            coverage = mode_coverage(fakes, self.density)
            stats["modes"] = coverage["modes"]
            stats["high_quality"] = coverage["high_quality"]
        frame = {
            "fakes": _integers(fakes),
            "arrows": _integers(arrows[:ARROWS]),
            "manifold": _integers(manifold),
            "d": _bytes(d),
            "d_star": _bytes(d_star),
            "stats": stats,
        }
        if self.dim == 1:
            frame["p_g"] = _bytes(log_p_g.exp() / self.log_p_data.exp().max())
        return frame

    def _gradients(self, fakes: Tensor) -> tuple[Tensor, Tensor]:
        """-dL_G/dx at each fake x = G(z) (data units, per sample: L_G's mean times n), the
        direction G's step pushes it; and D's logits at the fakes."""
        trainer = self.trainer
        x = fakes.float().requires_grad_(True)
        logits = self._discriminator(x)
        loss = trainer.objective.generator(logits) * len(logits)
        (gradient,) = torch.autograd.grad(loss, x)
        return -gradient.double(), logits.detach().double()
