"""``gankit augment``: does adding synthetic images to scarce real data make a better classifier,
without copying the training data?

For each fraction of the training split (``study.fractions``) and each seed, one *cell*:

1. a class-conditional GAN trains on that fraction of the real training images only (the
   seed picks both the subset, through ``image.subset_seed``, and the GAN's randomness);
2. it draws ``study.ratio`` synthetic images per real one, the same number of each class;
   a conditional VAE (:mod:`gankit.vae`) trained on the same images, for the same steps and
   batch size, draws as many (``study.vae``);
3. each classifier of :mod:`gankit.downstream` trains on every regime of :data:`REGIMES`
   (real only, synthetic only, real plus synthetic, real with shifted copies, ...) and is
   scored on the held-out real images, which no model ever trains on.

Over seeds, every regime's accuracy and macro-F1 get a 95% t interval, and so does its gain
over real only, paired by seed (:mod:`gankit.metrics.intervals`). The GAN's and the VAE's
samples are scored alike: feature-space metrics, sharpness (variance of the Laplacian) and
distances to the closest training image (:mod:`gankit.metrics.memorisation`).

The study folder holds ``study.json`` (the tables, and every cell's raw numbers),
``table.md``, ``accuracy.png`` and one folder per cell with its GAN run folder and VAE; a
cell is done once its ``cell.json`` is written, and :func:`resume_study` runs the rest.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from gankit.config import Config, load_config
from gankit.data import ImageData, load_data
from gankit.downstream import shifted_copies, train_and_score
from gankit.errors import GankitError
from gankit.files import write_atomically
from gankit.metrics import evaluate_samples
from gankit.metrics.features import feature_space
from gankit.metrics.intervals import Interval, paired_gain, t_interval
from gankit.metrics.sharpness import laplacian_variance
from gankit.pictures import save_grid, save_nearest_pairs
from gankit.plots import plot_study_accuracy, plot_vae_loss
from gankit.report import STUDY_FILE
from gankit.run import CONFIG_FILE, SUMMARY_FILE
from gankit.threads import torch_threads
from gankit.train import prepare_run_folder, train
from gankit.vae import VAE, save_vae, train_vae

CELL_FILE = "cell.json"

STUDY_DEFAULTS: dict[str, Any] = {
    # The demo's class-conditional DCGAN with differentiable augmentation (configs/digits.yaml)
    "data": "digits",
    "conditional": True,
    "model": "dcgan",
    "steps": 3000,
    "batch_size": 64,
    "r1": 0.1,
    "noise.dim": 32,
    "generator.width": 32,
    "discriminator.width": 32,
    "augment.policy": ["color", "translation", "cutout"],
    "eval_samples": 2000,
    "progress": False,
    "tensorboard": False,
}
"""``gankit augment``'s own defaults, over :class:`Config`'s; a config file or KEY=VALUE wins."""

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
    "dcr_ratio",
    "near_copies",
    "exact_copies",
)


def load_study_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Config:
    """The config of a study: :data:`STUDY_DEFAULTS`, then the file, then ``overrides``."""
    return load_config(path, overrides, defaults=STUDY_DEFAULTS)


def augment_study(
    config: Config | dict[str, Any] | None = None,
    out: str | Path = "runs/augment",
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the study of ``config.study`` and write its folder; returns what ``study.json`` holds.

    ``config``: a :class:`Config` (see :func:`load_study_config`), or a dict of settings
    over :data:`STUDY_DEFAULTS`.
    """
    if not isinstance(config, Config):
        config = load_config(base=config, defaults=STUDY_DEFAULTS)
    data = load_data(config)
    if not isinstance(data, ImageData) or data.num_classes < 2:
        raise GankitError(
            f"gankit augment needs labelled images (two or more classes); {config.data!r} has "
            "none: use digits, a folder with one subfolder per class, or an .npz with labels"
        )
    if config.image.per_class:
        raise GankitError(
            "gankit augment sets the training subset by study.fractions; drop image.per_class"
        )
    directory = prepare_run_folder(out, overwrite)
    (directory / CONFIG_FILE).write_text(config.to_yaml())
    return _run_cells(config, data, directory, progress)


def resume_study(directory: str | Path, progress: bool = True) -> dict[str, Any]:
    """Finish a stopped study: the cells with a ``cell.json`` are kept, the others run again."""
    directory = Path(directory)
    if not (directory / CONFIG_FILE).is_file():
        raise GankitError(
            f"{str(directory)!r} holds no study ({CONFIG_FILE} is missing); give the --out "
            "folder of a `gankit augment` that stopped"
        )
    config = load_config(directory / CONFIG_FILE)
    return _run_cells(config, load_data(config), directory, progress)


def _run_cells(config: Config, data: ImageData, directory: Path, progress: bool) -> dict[str, Any]:
    """Every cell not done yet, then the summary, plot and tables."""
    feature_space(data)  # trained (or read from the cache) once, before the cells share it
    cells = [(f, seed) for f in config.study.fractions for seed in range(config.study.seeds)]
    done = {
        cell: json.loads(path.read_text())
        for cell in cells
        if (path := cell_folder(directory, *cell) / CELL_FILE).is_file()
    }
    to_run = [cell for cell in cells if cell not in done]
    bar = tqdm(
        total=len(cells), initial=len(done), desc="augment", unit="cell", disable=not progress
    )
    if config.study.jobs == 1:
        for fraction, seed in to_run:
            done[(fraction, seed)] = run_cell(config, fraction, seed, directory)
            bar.update()
    else:
        context = multiprocessing.get_context("spawn")  # no torch state shared with a fork
        with ProcessPoolExecutor(config.study.jobs, mp_context=context) as pool:
            futures = {cell: pool.submit(run_cell, config, *cell, directory) for cell in to_run}
            for cell, future in futures.items():
                done[cell] = future.result()
                bar.update()
    bar.close()
    results = [done[cell] for cell in cells]

    study = summarise(config, results, data, directory)
    plot_study_accuracy(study["accuracy"], config.study.classifiers, directory / "accuracy.png")
    write_atomically(directory / "table.md", format_tables(study["tables"]))
    write_atomically(directory / STUDY_FILE, json.dumps(study, indent=2) + "\n")
    return study


def cell_folder(directory: Path, fraction: float, seed: int) -> Path:
    return directory / f"fraction-{fraction:g}" / f"seed-{seed}"


def run_cell(config: Config, fraction: float, seed: int, directory: Path) -> dict[str, Any]:
    """One fraction and seed: train the generators, then every classifier on every regime."""
    config = dataclasses.replace(
        config,
        seed=seed,
        eval_every=config.steps,  # one evaluation, at the end
        progress=False,
        image=dataclasses.replace(config.image, train_fraction=fraction, subset_seed=seed),
    )
    folder = cell_folder(directory, fraction, seed)
    started = time.perf_counter()
    with torch_threads(config.threads):
        data = load_data(config)
        real = (data.images, data.labels)
        count = config.study.ratio * len(data.images)
        count = data.num_classes * math.ceil(count / data.num_classes)  # balanced classes
        run = train(config, out=folder / "gan", overwrite=True)
        sources: dict[str, tuple[Tensor, Tensor]] = {"gan": _clamped(run.generate(count, seed))}
        generators = {
            "gan": _generator_metrics(run.summary(), run.generate(config.eval_samples, seed)[0])
        }
        if config.study.vae:
            vae, losses = train_vae(
                data, steps=config.steps, batch_size=config.batch_size, seed=seed
            )
            save_vae(vae, folder / "vae")
            plot_vae_loss(losses, folder / "vae" / "losses.png")
            sources["vae"] = vae.generate(count, seed)
            generators["vae"] = _score_vae(vae, data, config, folder / "vae")
        generators["real"] = {"sharpness": float(laplacian_variance(data.heldout_images).mean())}

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
                for classifier in config.study.classifiers
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
    write_atomically(folder / CELL_FILE, json.dumps(cell, indent=2) + "\n")  # last: cell done
    return cell


def _score_vae(vae: VAE, data: ImageData, config: Config, folder: Path) -> dict[str, Any]:
    """The VAE's samples scored like the GAN's; its samples.png and nearest.png beside."""
    images, labels = vae.generate(config.eval_samples, config.seed)
    metrics = evaluate_samples(images, data, config.seed, labels)
    grid, grid_labels = vae.generate(10 * data.num_classes, config.seed)
    rows = grid_labels.argsort(stable=True)  # row c: ten samples of class c
    save_grid(grid[rows], folder / "samples.png", columns=10)
    save_nearest_pairs(images, data.images, folder / "nearest.png")
    write_atomically(folder / SUMMARY_FILE, json.dumps(metrics, indent=2) + "\n")
    return _generator_metrics(metrics, images)


def _generator_metrics(metrics: dict[str, Any], images: Tensor) -> dict[str, Any]:
    chosen = {key: metrics[key] for key in GENERATOR_METRICS if key in metrics}
    chosen["sharpness"] = float(laplacian_variance(images.clamp(-1, 1)).mean())
    return chosen


def _clamped(generated: tuple[Tensor, Tensor | None]) -> tuple[Tensor, Tensor]:
    images, labels = generated
    assert labels is not None  # the study's G is conditional
    return images.clamp(-1, 1), labels


def _concatenate(parts: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def summarise(
    config: Config, cells: list[dict[str, Any]], data: ImageData, directory: Path
) -> dict[str, Any]:
    """Intervals over seeds for every fraction, regime and classifier; the tables and the
    pictures (those in ``directory``) of ``study.json``."""
    study = config.study
    accuracy: list[dict[str, Any]] = []
    for fraction in study.fractions:
        here = sorted((c for c in cells if c["fraction"] == fraction), key=lambda c: c["seed"])
        for classifier in study.classifiers:
            baseline = {m: [c["scores"]["real"][classifier][m] for c in here] for m in _SCORES}
            for regime in REGIMES:
                if regime not in here[0]["scores"]:
                    continue
                values = {m: [c["scores"][regime][classifier][m] for c in here] for m in _SCORES}
                row: dict[str, Any] = {
                    "fraction": fraction,
                    "real_images": here[0]["real_images"],
                    "classifier": classifier,
                    "regime": regime,
                }
                for metric in _SCORES:
                    row[metric] = t_interval(values[metric]).to_dict()
                    row[f"{metric}_gain"] = paired_gain(values[metric], baseline[metric]).to_dict()
                accuracy.append(row)
    generators = _summarise_generators(study.fractions, cells)
    pictures = [{"title": "Accuracy against the fraction of real data", "path": "accuracy.png"}]
    for fraction in study.fractions:
        for source in ("gan", "vae") if study.vae else ("gan",):
            for name, what in _CELL_PICTURES.items():
                path = cell_folder(Path(), fraction, 0) / source / f"{name}.png"
                if (directory / path).is_file():  # a VAE trained before its curve was drawn
                    title = f"{source.upper()} at {fraction:g} of the data (seed 0): {what}"
                    pictures.append({"title": title, "path": path.as_posix()})
    budget = f"{config.steps} steps of batch {config.batch_size}"
    return {
        "title": f"Does synthetic data help? {data.name}",
        "description": (
            f"Fractions {', '.join(f'{f:g}' for f in study.fractions)} of the "
            f"{len(data.split_images)} training images, {study.seeds} seed(s) each; every "
            f"classifier scored on the same "
            f"{len(data.heldout_images)} held-out real images. Intervals are 95% t intervals "
            "over seeds; gains are paired by seed."
        ),
        "settings": {
            "data": config.data,
            "fractions": study.fractions,
            "seeds": study.seeds,
            "synthetic images per real image": study.ratio,
            "classifiers": study.classifiers,
            "GAN": f"{config.model}, {config.loss} loss, {budget}",
            "VAE": f"convolutional, conditional, {budget}" if study.vae else "off",
        },
        "tables": [
            _findings_table(
                accuracy, generators, cells, config.eval_samples, len(data.heldout_images)
            ),
            _accuracy_table(accuracy),
            _generator_table(generators),
        ],
        "pictures": pictures,
        "accuracy": accuracy,
        "generators": generators,
        "cells": cells,
    }


_SCORES = ("accuracy", "macro_f1")
_CELL_PICTURES = {
    "losses": "training curves",
    "samples": "samples, one row per class",
    "nearest": "the samples closest to a training image, each beside it",
}


def _summarise_generators(fractions: list[float], cells: list[dict[str, Any]]) -> list[dict]:
    rows = []
    for fraction in fractions:
        here = [c for c in cells if c["fraction"] == fraction]
        for source in ("gan", "vae", "real"):
            if source not in here[0]["generators"]:
                continue
            found = [c["generators"][source] for c in here]
            row: dict[str, Any] = {"fraction": fraction, "source": source}
            for key in GENERATOR_METRICS:
                if key in found[0]:
                    row[key] = t_interval([f[key] for f in found]).to_dict()
            rows.append(row)
    return rows


def _interval(values: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
    return Interval(**values).format(scale, digits)


def _findings_table(
    accuracy: list[dict[str, Any]],
    generators: list[dict[str, Any]],
    cells: list[dict[str, Any]],
    eval_samples: int,
    heldout_images: int,
) -> dict[str, Any]:
    """The study's questions, answered per fraction from the other two tables' numbers."""
    rows = []
    for fraction in dict.fromkeys(row["fraction"] for row in accuracy):
        gains = [r for r in accuracy if r["fraction"] == fraction and r["regime"] == "real+gan"]
        best = max(gains, key=lambda r: r["accuracy_gain"]["low"])
        above = [r["classifier"] for r in gains if r["accuracy_gain"]["low"] > 0]
        rows.append(
            [
                f"{fraction:g}",
                "Does real+GAN beat real only (accuracy, 95% interval above 0)?",
                f"{'yes' if above else 'no'}: "
                + (", ".join(above) if above else "for no classifier")
                + f"; best {best['classifier']} {_interval(best['accuracy_gain'], 100)} points",
            ]
        )
        here = [c for c in cells if c["fraction"] == fraction]
        for source in ("gan", "vae"):
            if source in here[0]["generators"]:
                copies = sum(c["generators"][source]["near_copies"] for c in here)
                exact = sum(c["generators"][source]["exact_copies"] for c in here)
                total = eval_samples * len(here)  # the samples each cell scored
                rows.append(
                    [
                        f"{fraction:g}",
                        f"Near (exact) copies of a training image among the {source.upper()}'s "
                        "samples, all seeds (near copies expected of a draw from p_data)",
                        f"{copies} ({exact}) of {total} ({total / (heldout_images + 1):.0f})",
                    ]
                )
        by_source = {r["source"]: r for r in generators if r["fraction"] == fraction}
        if "vae" in by_source:
            gan, vae, real = by_source["gan"], by_source["vae"], by_source["real"]
            rows.append(
                [
                    f"{fraction:g}",
                    "GAN against VAE: sharpness (real images), recall, Frechet",
                    f"{gan['sharpness']['mean']:.2f} vs {vae['sharpness']['mean']:.2f} "
                    f"({real['sharpness']['mean']:.2f}); {gan['recall']['mean']:.3f} vs "
                    f"{vae['recall']['mean']:.3f}; {gan['frechet']['mean']:.1f} vs "
                    f"{vae['frechet']['mean']:.1f}",
                ]
            )
    return {"title": "Findings", "columns": ["fraction", "question", "answer"], "rows": rows}


def _accuracy_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": "Held-out accuracy and macro-F1 (%), and the gain over real only (points)",
        "columns": [
            "fraction",
            "real images",
            "classifier",
            "training data",
            "accuracy",
            "macro-F1",
            "accuracy gain",
            "macro-F1 gain",
        ],
        "rows": [
            [
                f"{row['fraction']:g}",
                row["real_images"],
                row["classifier"],
                row["regime"],
                _interval(row["accuracy"], 100),
                _interval(row["macro_f1"], 100),
                "" if row["regime"] == "real" else _interval(row["accuracy_gain"], 100),
                "" if row["regime"] == "real" else _interval(row["macro_f1_gain"], 100),
            ]
            for row in rows
        ],
        "note": "; ".join(f"{name}: {text}" for name, text in REGIMES.items()),
    }


def _generator_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    digits = {"frechet": 1, "sharpness": 3, "near_copies": 1, "exact_copies": 1}
    return {
        "title": "The generators' samples (mean [95% interval] over seeds)",
        "columns": ["fraction", "source", *GENERATOR_METRICS],
        "rows": [
            [f"{row['fraction']:g}", row["source"]]
            + [
                _interval(row[key], 1, digits.get(key, 3)) if key in row else ""
                for key in GENERATOR_METRICS
            ]
            for row in rows
        ],
        "note": (
            "Frechet, precision, recall, density and coverage in the data's feature network's "
            "space, against the held-out images; sharpness: variance of the Laplacian; "
            "dcr_ratio: median distance to the closest training image, synthetic over "
            "held-out; near copies: samples closer to a training image than any held-out "
            "image is"
        ),
    }


def format_tables(tables: list[dict[str, Any]]) -> str:
    """The tables as Markdown, as ``gankit augment`` prints them."""
    lines = []
    for table in tables:
        lines += [f"### {table['title']}", ""]
        lines.append("| " + " | ".join(table["columns"]) + " |")
        lines.append("|" + "---|" * len(table["columns"]))
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in table["rows"]]
        if table.get("note"):
            lines += ["", table["note"]]
        lines.append("")
    return "\n".join(lines)
