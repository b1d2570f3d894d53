"""Pictures of an image run as it trains: a grid of G's samples of one fixed noise batch at every
evaluation (``grids/step_NNNNNN.png``), so that progress is visible, and at the end
``samples.png`` and ``nearest.png`` (the evaluated samples closest to a training image, each
beside it).

The grid has one row per class for a conditional G (the same noise in each column), or 8 x 8
samples otherwise.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.evaluation import generate
from gankit.nets.prior import sample_prior
from gankit.output import run_folder
from gankit.output.image_grids import save_grid, save_nearest_pairs

GRID_COLUMNS = 10


class ImageProgress:
    """Draws the sampling G's grid of a fixed noise batch (``seed``) into a run folder."""

    def __init__(self, config: Config, num_classes: int, directory: Path) -> None:
        self.directory = directory
        noise = torch.Generator().manual_seed(config.seed)
        if num_classes:  # row c: class c, the same noise in every row
            self.noise = sample_prior(GRID_COLUMNS, config.noise, noise).repeat(num_classes, 1)
            self.labels: Tensor | None = torch.arange(num_classes).repeat_interleave(GRID_COLUMNS)
            self.columns = GRID_COLUMNS
        else:
            self.noise, self.labels, self.columns = sample_prior(64, config.noise, noise), None, 8

    def draw(self, generator: nn.Module, path: Path) -> None:
        """The grid of the fixed noise batch, as ``generator`` now draws it."""
        save_grid(generate(generator, self.noise, self.labels), path, self.columns)

    def draw_step(self, generator: nn.Module, step: int) -> None:
        self.draw(generator, self.directory / run_folder.GRIDS / f"step_{step:06d}.png")

    def draw_nearest(self, samples: Tensor, training_images: Tensor) -> None:
        """``samples`` (the last evaluated ones) closest to a training image, each beside it."""
        save_nearest_pairs(samples, training_images, self.directory / run_folder.NEAREST)
