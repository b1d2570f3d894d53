"""``gankit augment``: does adding synthetic data to scarce real data make a better classifier,
without copying the training data?

For labelled images the study runs one cell (:mod:`gankit.studies.cells`) for each fraction of
the training split (``study.fractions``) and each seed, in ``study.jobs`` processes, then sums
the cells up over seeds (:mod:`gankit.studies.tables`). For a table, or images with
``study.minority``, it is the rare-event study instead: one cell
(:mod:`gankit.studies.rare_cells`) for each prevalence of the rare class and each seed, summed
up by :mod:`gankit.studies.rare_events`. Its folder holds ``study.yaml`` (its settings, see
:mod:`gankit.studies.config`), ``study.json`` (the tables, the pictures to show and every cell's
raw numbers), ``table.md``, ``accuracy.png`` and one folder per cell; a cell is done once its
``cell.json`` is written, and :func:`resume_study` runs the others. With ``study.population``
each fraction's GANs, one a seed, first train together as one population
(:func:`~gankit.studies.cells.train_gans_together`, ``study.jobs`` fractions at a time), and
the cells then use them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gankit.config import model_for
from gankit.data import ImageData, TableData, load_data
from gankit.errors import GankitError
from gankit.files import write_atomically
from gankit.metrics.features import feature_space
from gankit.output import run_folder
from gankit.output.figures import plot_study_accuracy
from gankit.studies.cells import cell_folder, run_cell, train_gans_together
from gankit.studies.config import RareStudyConfig, StudyConfig, StudySettings, load_study_config
from gankit.studies.rare_cells import rare_cell_folder, run_rare_cell
from gankit.studies.rare_events import draw_figures, rare_study_data, rare_summary
from gankit.studies.tables import accuracy_rows, format_tables, generator_rows, study_tables
from gankit.training.population import check_population

log = logging.getLogger(__name__)

CELL_PICTURES = {
    run_folder.LOSSES: "training curves",
    run_folder.SAMPLES: "samples, one row per class",
    run_folder.NEAREST: "the samples closest to a training image, each beside it",
}
"""The pictures of each generator of a cell that ``study.json`` shows (those of seed 0)."""

Item = tuple[Any, ...]  # run in a process: a cell (fraction or prevalence, seed), or (fraction,)


def augment_study(
    settings: StudySettings | dict[str, Any] | None = None,
    out: str | Path = "runs/augment",
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run a study and write its folder ``out``; returns what its ``study.json`` holds.

    ``settings``: as :func:`~gankit.studies.config.load_study_config` returns them, or a dict
    of settings over the study's defaults, nested or with dotted keys, e.g.
    ``{"study.fractions": [0.05, 0.1], "steps": 300}``.
    """
    if not isinstance(settings, StudySettings):
        settings = load_study_config(base=settings)
    training = settings.training
    if training.data_is_path:  # a user's file: a resume from elsewhere must find it again
        training = dataclasses.replace(training, data=str(Path(training.data).resolve()))
        settings = dataclasses.replace(settings, training=training)
    settings, data = _study_data(settings)
    directory = run_folder.prepare(out, overwrite)
    with run_folder.locked(directory, "running the study"):
        write_atomically(directory / run_folder.STUDY_CONFIG, settings.to_yaml())
        return _run_study(settings, data, directory, progress)


def resume_study(directory: str | Path, progress: bool = True) -> dict[str, Any]:
    """Finish a stopped study with its own settings: the cells with a ``cell.json`` are kept,
    the others run."""
    directory = Path(directory)
    if not (directory / run_folder.STUDY_CONFIG).is_file():
        raise GankitError(
            f"{str(directory)!r} holds no study ({run_folder.STUDY_CONFIG} is missing); give the "
            "--out folder of a `gankit augment` that stopped"
        )
    with run_folder.locked(directory, "resuming the study"):
        settings = load_study_config(directory / run_folder.STUDY_CONFIG)
        return _run_study(*_study_data(settings), directory, progress)


def _study_data(settings: StudySettings) -> tuple[StudySettings, ImageData | TableData]:
    """The study's settings (completed) and data, or one line saying why they cannot make a
    study."""
    if settings.rare:
        return rare_study_data(settings)
    training = settings.training
    data = load_data(training)
    if not isinstance(data, ImageData) or data.num_classes < 2:
        raise GankitError(
            f"gankit augment needs labelled images (two or more classes); {training.data!r} has "
            "none: use digits, a folder with one subfolder per class, or an .npz with labels"
        )
    if not training.conditional:
        raise GankitError("gankit augment trains class-conditional GANs; drop conditional=false")
    if training.image.per_class:
        raise GankitError(
            "gankit augment sets the training subset by study.fractions; drop image.per_class"
        )
    if settings.study.population:
        check_population(training, data)
    return settings, data


def _run_study(
    settings: StudySettings, data: ImageData | TableData, directory: Path, progress: bool
) -> dict[str, Any]:
    """Every cell not done yet, then the study's tables, plots and ``study.json``."""
    study = settings.study
    if isinstance(study, RareStudyConfig):
        cells = [(p, seed) for p in study.prevalence for seed in range(study.seeds)]
        folder_of = rare_cell_folder
        # a bar within the cell too, where one process runs the cells one by one
        run = functools.partial(run_rare_cell, progress=progress and study.jobs == 1)
    else:
        feature_space(data)  # trained (or read from the cache) once, before the cells share it
        cells = [(fraction, seed) for fraction in study.fractions for seed in range(study.seeds)]
        folder_of, run = cell_folder, run_cell
    done = {
        cell: run_folder.read_json(path)
        for cell in cells
        if (path := folder_of(directory, *cell) / run_folder.CELL).is_file()
    }
    to_run = [cell for cell in cells if cell not in done]
    if done:
        log.info(
            "%d of %d cells of %s are done; running the others", len(done), len(cells), directory
        )
    together = isinstance(study, StudyConfig) and study.population
    with _pool(study.jobs, len(to_run)) as pool:  # one pool for both phases: one start-up
        if together:
            # each fraction's GANs as one population, study.jobs populations at a time
            fractions = sorted({(fraction,) for fraction, _ in to_run})
            gans = functools.partial(train_gans_together, progress=progress and study.jobs == 1)
            with tqdm(
                fractions, desc="GAN populations", unit="fraction", disable=not progress
            ) as bar:
                for _ in _run_all(gans, settings, fractions, directory, pool):
                    bar.update()
        with tqdm(
            total=len(cells), initial=len(done), desc="augment", unit="cell", disable=not progress
        ) as bar:
            for cell, result in _run_all(run, settings, to_run, directory, pool):
                done[cell] = result
                bar.update()
    results = [done[cell] for cell in cells]

    if isinstance(study, RareStudyConfig):
        summary = rare_summary(settings, results, data, directory)
        draw_figures(settings, summary["rows"], directory)
    else:
        summary = _summary(settings, results, data, directory)
        plot_study_accuracy(
            summary["accuracy"], study.classifiers, directory / run_folder.STUDY_ACCURACY
        )
    write_atomically(directory / run_folder.STUDY_TABLES, format_tables(summary["tables"]))
    run_folder.write_json(directory / run_folder.STUDY, summary)  # last: the study is done
    return summary


@contextlib.contextmanager
def _pool(jobs: int, cells: int) -> Iterator[ProcessPoolExecutor | None]:
    """``min(jobs, cells)`` processes that run cells (None: run them here, one by one)."""
    jobs = min(jobs, cells)
    if jobs <= 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")  # no torch state shared with a fork
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_exit_with, initargs=(os.getpid(),)
    ) as pool:
        try:
            yield pool
        except BaseException:
            # a failed cell stops the study: start no other, let the running ones finish
            pool.shutdown(cancel_futures=True)
            raise


def _run_all(
    run: Callable[..., Any],
    settings: StudySettings,
    items: Sequence[Item],
    directory: Path,
    pool: ProcessPoolExecutor | None,
) -> Iterator[tuple[Item, Any]]:
    """``run(settings, *item, directory)`` for each item (a cell, or a fraction whose GANs train
    together), in the pool's processes (here, without one); yields each (item, result) as it
    finishes."""
    if pool is None:
        for item in items:
            yield item, run(settings, *item, directory)
        return
    futures = {pool.submit(run, settings, *item, directory): item for item in items}
    for future in as_completed(futures):
        yield futures[future], future.result()


def _exit_with(study: int) -> None:
    """A cell process's start: it ends as soon as the study's process is gone (killed, say),
    rather than finish a cell that nobody waits for and write into a folder that a resumed
    study is writing too. (A killed process's children live on, adopted by another.)"""

    def watch() -> None:
        while os.getppid() == study:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _summary(
    settings: StudySettings, cells: list[dict[str, Any]], data: ImageData, directory: Path
) -> dict[str, Any]:
    """What ``study.json`` holds: the study's title, settings, tables, pictures (those in
    ``directory``), the rows the tables are made of, and every cell's numbers."""
    study, training = settings.study, settings.training
    accuracy = accuracy_rows(study, cells)
    generators = generator_rows(study.fractions, cells)
    pictures = [
        {"title": "Accuracy against the fraction of real data", "path": run_folder.STUDY_ACCURACY}
    ]
    for fraction in study.fractions:
        for source in ("gan", "vae") if study.vae else ("gan",):
            for name, what in CELL_PICTURES.items():
                path = cell_folder(Path(), fraction, 0) / source / name
                if (directory / path).is_file():  # a VAE trained before its curve was drawn
                    title = f"{source.upper()} at {fraction:g} of the data (seed 0): {what}"
                    pictures.append({"title": title, "path": path.as_posix()})
    budget = f"{training.steps} steps of batch {training.batch_size}"
    return {
        "title": f"Does synthetic data help? {data.name}",
        "description": (
            f"Fractions {', '.join(f'{f:g}' for f in study.fractions)} of the "
            f"{len(data.split_images)} training images, {study.seeds} seed(s) each; every "
            f"classifier scored on the same {len(data.heldout_images)} held-out real images. "
            "Intervals are 95% t intervals over seeds; gains are paired by seed."
        ),
        "settings": {
            "data": training.data,
            "fractions": study.fractions,
            "seeds": study.seeds,
            "synthetic images per real image": study.ratio,
            "classifiers": study.classifiers,
            "GAN": f"{model_for(training.model, 'labelled images')}, {training.loss} loss, "
            + budget,
            "VAE": f"convolutional, conditional, {budget}" if study.vae else "off",
        },
        "tables": study_tables(
            accuracy, generators, cells, training.eval_samples, len(data.heldout_images)
        ),
        "pictures": pictures,
        "accuracy": accuracy,
        "generators": generators,
        "cells": cells,
    }
