"""One cell of a study: one fraction of the training split and one seed, from the real images to
every classifier's held-out scores.

1. a class-conditional GAN trains on that fraction of the real training images only (the seed
   picks both the subset, through ``image.subset_seed``, and the GAN's randomness);
2. it draws ``study.ratio`` synthetic images per real one, the same number of each class; a
   conditional VAE (:mod:`gankit.vae`) trained on the same images, for the same steps and batch
   size, draws as many (``study.vae``);
3. each classifier of :mod:`gankit.downstream` trains on every regime of :data:`REGIMES` and is
   scored on the held-out real images, which no model ever trains on.

The GAN's and the VAE's samples are scored alike: feature-space metrics, sharpness (variance of
the Laplacian, and the share of spectral energy at high frequencies:
:mod:`gankit.metrics.sharpness`) and distances to the closest training image
(:mod:`gankit.metrics.memorisation`).
A cell's folder holds ``gan/``, the GAN's run folder, and ``vae/``, the VAE's weights, scores
and pictures; its ``cell.json``, written last, marks it done.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gankit.config import Config, PopulationConfig
from gankit.data import ImageData, load_data
from gankit.downstream import shifted_copies, train_and_score
from gankit.errors import DivergenceError
from gankit.metrics import evaluate_samples
from gankit.metrics.sharpness import sharpness_scores
from gankit.output import run_folder
from gankit.output.figures import plot_vae_loss
from gankit.output.image_grids import save_grid, save_nearest_pairs
from gankit.run import Run
from gankit.studies.config import StudySettings
from gankit.threads import torch_threads
from gankit.training import population
from gankit.training.run_training import train
from gankit.vae import VAE, save_vae, train_vae

REGIMES: dict[str, str] = {
    "real": "the real training images",
    "real+shift": "real, and as many copies shifted by 1 pixel as there are synthetic images",
    "gan": "GAN samples only (train on synthetic, test on real)",
    "real+gan": "real and GAN samples",
    "real+shift+gan": "real, shifted copies and GAN samples",
    "vae": "VAE samples only",
    "real+vae": "real and VAE samples",
}
"""The training sets a classifier sees, in the table's order."""

GENERATOR_METRICS = (
    "frechet",
    "precision",
    "recall",
    "density",
    "coverage",
    "class_accuracy",
    "sharpness",
    "high_frequency",
    "dcr_ratio",
    "near_copies",
    "exact_copies",
)
"""What a cell keeps of each generator's scores (and of the real images', their sharpness and
high-frequency share). A study written before ``high_frequency`` existed lacks it: its tables
leave that column empty."""

GAN = "gan"
"""A cell's GAN's run folder, in the cell's folder."""
POPULATION = "population"
"""With ``study.population``: the folder of a fraction's population, beside its cells'."""

CELL_SETTINGS = ("seed", "eval_every", "progress", "image.train_fraction", "image.subset_seed")
"""The training settings each cell sets for its GAN, whatever the study's config says."""


def cell_folder(directory: Path, fraction: float, seed: int) -> Path:
    """The folder of the cell (fraction, seed) in the study folder ``directory``."""
    return directory / f"fraction-{fraction:g}" / f"seed-{seed}"


def run_cell(
    settings: StudySettings, fraction: float, seed: int, directory: Path
) -> dict[str, Any]:
    """One fraction and seed: train the generators (the GAN only without ``study.population``,
    which trains it beforehand: :func:`train_gans_together`), then every classifier on every
    regime; the cell's numbers, as its ``cell.json`` holds them."""
    study, config = settings.study, _cell_config(settings.training, fraction, seed)
    folder = cell_folder(directory, fraction, seed)
    started = time.perf_counter()
    with torch_threads(config.threads):
        data = load_data(config)
        assert isinstance(data, ImageData)  # the study checked its data before any cell
        real = (data.images, data.labels)
        count = study.ratio * len(data.images)
        count = data.num_classes * math.ceil(count / data.num_classes)  # balanced classes
        if study.population:
            run = Run.load(folder / GAN)
        else:
            run = train(config, out=folder / GAN, overwrite=True)
        sources: dict[str, tuple[Tensor, Tensor]] = {"gan": _labelled(run.generate(count, seed))}
        gan_images = run.generate(config.eval_samples, seed)[0]
        generators = {"gan": _generator_metrics({**run.summary(), **sharpness_scores(gan_images)})}
        if study.vae:
            vae, losses = train_vae(
                data, steps=config.steps, batch_size=config.batch_size, seed=seed
            )
            save_vae(vae, folder / "vae")
            plot_vae_loss(losses, folder / "vae" / run_folder.LOSSES)
            sources["vae"] = _labelled(vae.generate(count, seed))
            generators["vae"] = _score_vae(vae, data, config, folder / "vae")
        generators["real"] = sharpness_scores(data.heldout_images)

        shifted = shifted_copies(*real, count, torch.Generator().manual_seed(seed))
        training_sets = {
            "real": [real],
            "real+shift": [real, shifted],
            **{name: [images] for name, images in sources.items()},
            **{f"real+{name}": [real, images] for name, images in sources.items()},
            **{f"real+shift+{name}": [real, shifted, images] for name, images in sources.items()},
        }
        test = (data.heldout_images, data.heldout_labels)
        scores = {
            regime: {
                classifier: train_and_score(
                    classifier, _concatenate(training_sets[regime]), test, data.num_classes, seed
                )
                for classifier in study.classifiers
            }
            for regime in REGIMES
            if regime in training_sets
        }
    cell = {
        "fraction": fraction,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "real_images": len(data.images),
        "synthetic_images": count,
        "scores": scores,
        "generators": generators,
    }
    run_folder.write_json(folder / run_folder.CELL, cell)  # last: the cell is done
    return cell


def train_gans_together(
    settings: StudySettings, fraction: float, directory: Path, progress: bool = False
) -> None:
    """The GANs of every seed of ``fraction`` as one population
    (:mod:`gankit.training.population`): member s is the GAN that cell (fraction, s) would
    train alone, with its seed and its subset of the images, in that cell's ``gan/`` folder.
    The population's own files are in ``fraction-F/population/``; a population that stopped
    goes on from its members' checkpoints."""
    folder = cell_folder(directory, fraction, 0).parent / POPULATION
    if (folder / population.STATE).is_file():
        trained = population.resume_population(folder)
    else:
        seeds = list(range(settings.study.seeds))
        config = _cell_config(settings.training, fraction, 0)
        config.progress = progress  # the first member's bar stands for the population's
        config.population = PopulationConfig(seeds=len(seeds), sweep={"image.subset_seed": seeds})
        config.sources.update(
            dict.fromkeys(("progress", "population.seeds", "population.sweep"), "the study")
        )
        folders = [cell_folder(directory, fraction, seed) / GAN for seed in seeds]
        trained = population.train_population(
            config, load_data(config), folder, overwrite=True, folders=folders
        )
    if len(trained.runs) < settings.study.seeds:
        state = run_folder.read_json(folder / population.STATE)
        stopped = next(m for m in state["members"] if m["status"] == "diverged")
        raise DivergenceError(
            f"the GAN of seed {stopped['seed']} at fraction {fraction:g} diverged: "
            f"{stopped['message']}",
            "population",
            settings.training.steps,
        )


def _cell_config(training: Config, fraction: float, seed: int) -> Config:
    """The study's training config for this cell: its subset, its seed, one evaluation."""
    return dataclasses.replace(
        training,
        seed=seed,
        eval_every=training.steps,  # one evaluation, at the end
        progress=False,
        image=dataclasses.replace(training.image, train_fraction=fraction, subset_seed=seed),
        # the GAN's config.yaml names the cell as the source of what it set
        sources={**training.sources, **dict.fromkeys(CELL_SETTINGS, "the study's cell")},
    )


def score_images(
    images: Tensor, labels: Tensor | None, data: ImageData, seed: int
) -> dict[str, Any]:
    """Generated images (n, C, H, W) in [-1, 1], and the classes they were asked for, scored
    as a cell scores its VAE's: every metric of :func:`~gankit.metrics.evaluate_samples`
    against the held-out images (``seed`` for its random parts), and the sharpness measures of
    :func:`~gankit.metrics.sharpness.sharpness_scores`."""
    return {**evaluate_samples(images, data, seed, labels), **sharpness_scores(images)}


def _score_vae(vae: VAE, data: ImageData, config: Config, folder: Path) -> dict[str, Any]:
    """The VAE's samples scored like the GAN's; its samples.png and nearest.png beside."""
    images, labels = vae.generate(config.eval_samples, config.seed)
    metrics = score_images(images, labels, data, config.seed)
    grid, grid_labels = _labelled(vae.generate(10 * data.num_classes, config.seed))
    rows = grid_labels.argsort(stable=True)  # row c: ten samples of class c
    save_grid(grid[rows], folder / run_folder.SAMPLES, columns=10)
    save_nearest_pairs(images, data.images, folder / run_folder.NEAREST)
    run_folder.write_json(folder / run_folder.SUMMARY, metrics)
    return _generator_metrics(metrics)


def _generator_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: metrics[key] for key in GENERATOR_METRICS if key in metrics}


def _labelled(generated: tuple[Tensor, Tensor | None]) -> tuple[Tensor, Tensor]:
    """A conditional generator's images, clamped to [-1, 1], and their classes."""
    images, labels = generated
    assert labels is not None  # the study's generators are conditional
    return images.clamp(-1, 1), labels


def _concatenate(parts: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
