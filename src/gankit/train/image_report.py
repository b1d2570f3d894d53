"""What an image run shows while it trains and at the end: metrics against the held-out
images, and grids of G's samples of one fixed noise batch, so that progress is visible.

The grid has one row per class for a conditional G (the same noise in each column), or
8 x 8 samples otherwise; it is drawn at every evaluation into ``grids/step_NNNNNN.png`` and
at the end into ``samples.png``, beside ``nearest.png``: the samples closest to a training
image, each next to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gankit.data.images import ImageData
from gankit.metrics import evaluate_samples
from gankit.nets.prior import sample_prior
from gankit.pictures import save_grid, save_nearest_pairs
from gankit.train.engine import Trainer

GRID_COLUMNS = 10
GRID_FOLDER = "grids"


class ImageReport:
    """Evaluates the sampling G of ``trainer`` on fixed noise, and draws its grid."""

    def __init__(self, trainer: Trainer, data: ImageData, directory: Path) -> None:
        self.trainer, self.data, self.directory = trainer, data, directory
        config = trainer.config
        noise = torch.Generator().manual_seed(config.seed)
        self.eval_noise = sample_prior(config.eval_samples, config.noise, noise)
        classes = trainer.num_classes
        self.eval_labels = torch.arange(config.eval_samples) % classes if classes else None
        if classes:  # row c: class c, the same noise in every row
            columns = sample_prior(GRID_COLUMNS, config.noise, noise)
            self.grid_noise = columns.repeat(classes, 1)
            self.grid_labels = torch.arange(classes).repeat_interleave(GRID_COLUMNS)
            self.grid_columns = GRID_COLUMNS
        else:
            self.grid_noise = sample_prior(64, config.noise, noise)
            self.grid_labels = None
            self.grid_columns = 8

    @torch.no_grad()
    def _sample(self, noise: Tensor, labels: Tensor | None) -> Tensor:
        """The sampling G (the EMA copy when enabled) on ``noise``, in batches of 500, on the
        CPU."""
        sampler = self.trainer.sampling_generator.eval()
        device = next(sampler.parameters()).device
        try:
            chunks = []
            for start in range(0, len(noise), 500):
                z = noise[start : start + 500].to(device)
                y = None if labels is None else labels[start : start + 500].to(device)
                chunks.append(sampler(z) if y is None else sampler(z, y))
            return torch.cat(chunks).float().cpu()
        finally:
            sampler.train()

    def evaluate(self) -> dict[str, Any]:
        """The metrics of the sampling G; draws ``grids/step_NNNNNN.png`` too."""
        self.draw(self.directory / GRID_FOLDER / f"step_{self.trainer.step:06d}.png")
        images = self._sample(self.eval_noise, self.eval_labels)
        seed = self.trainer.config.seed
        return evaluate_samples(images, self.data, seed, self.eval_labels)

    def draw(self, path: Path) -> None:
        """The grid of the fixed noise batch, as G now draws it."""
        save_grid(self._sample(self.grid_noise, self.grid_labels), path, self.grid_columns)

    def draw_nearest(self, path: Path) -> None:
        """The evaluation samples closest to a training image, each beside that image."""
        samples = self._sample(self.eval_noise, self.eval_labels)
        save_nearest_pairs(samples, self.data.images, path)
