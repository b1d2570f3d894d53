"""``gankit.train`` and ``gankit.resume``: a config, or a stopped run, to a finished run folder.

Both train in every process torchrun started (see :mod:`gankit.training.distributed`); rank 0
alone holds the folder's lock and writes the run folder, and every process returns once it is
complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from gankit.config import Config, load_config
from gankit.data import ImageData, TableData, VectorData, load_data
from gankit.errors import GankitError
from gankit.evaluation import Evaluator
from gankit.files import write_atomically
from gankit.output import run_folder
from gankit.output.figures import plot_losses, plot_samples
from gankit.output.table_figures import plot_associations, plot_columns
from gankit.run import Run
from gankit.threads import torch_threads
from gankit.training.callbacks import ProgressBar, Reporter, TensorBoardLog
from gankit.training.checkpoint import Checkpoints
from gankit.training.distributed import process_group
from gankit.training.engine import Trainer, build_trainer
from gankit.training.guard import fit_guarded
from gankit.training.image_progress import ImageProgress

log = logging.getLogger(__name__)


def train(
    config: Config | dict[str, Any] | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
) -> Run:
    """Train a GAN and write its run folder; returns the trained :class:`~gankit.run.Run`.

    Args:
        config: a :class:`Config`, or a dict of settings over the defaults, nested or with
            dotted keys, e.g. ``{"data": "grid25", "steps": 4000, "generator.lr": 1e-4}``.
        out: the run folder; default ``runs/<data>-<time>``. An existing run folder is
            refused unless ``overwrite`` is true.
    """
    if not isinstance(config, Config):
        config = load_config(base=config)
    data = load_data(config)
    if config.data_is_path:  # a user's file: the run folder must find it again
        config = dataclasses.replace(config, data=str(Path(config.data).resolve()))
    with process_group() as world, contextlib.ExitStack() as stack:
        trainer = build_trainer(config, data, world)

        def prepare() -> bytes:
            directory = run_folder.prepare(out or default_run_folder(data.name), overwrite)
            stack.enter_context(run_folder.locked(directory, "training it"))
            write_atomically(directory / run_folder.CONFIG, config.to_yaml())
            return str(directory).encode()

        directory = Path(world.share(prepare).decode())
        return _train_to_the_end(trainer, data, directory, resumed=False)


def resume(
    directory: str | Path, device: str | None = None, allow_changed_data: bool = False
) -> Run:
    """Continue a stopped run from its newest readable checkpoint, with the run's own config.

    On the CPU the result is bit-identical to an uninterrupted run. ``metrics.jsonl`` is cut
    back to the checkpoint's step, so no step is logged twice. ``device`` (auto, cpu or cuda)
    overrides the one the run was started with. Data that changed since the checkpoint was
    written (another size or content) stops the resume unless ``allow_changed_data``.
    """
    directory = Path(directory)
    with process_group() as world, contextlib.ExitStack() as stack:

        def check_run_folder() -> bytes:
            if not (directory / run_folder.CONFIG).is_file():
                raise GankitError(
                    f"{str(directory)!r} is not a gankit run folder (no {run_folder.CONFIG}); "
                    "give the --out folder of a `gankit train`"
                )
            stack.enter_context(run_folder.locked(directory, "resuming it"))
            return b""

        world.share(check_run_folder)
        checkpoint = Checkpoints(directory / run_folder.CHECKPOINTS, world=world).newest()
        config = checkpoint.config
        if device is not None:
            config = dataclasses.replace(config, device=device)
        data = load_data(config)
        saved, now = checkpoint.state.get("data"), data.fingerprint()
        if saved is not None and saved != now and not allow_changed_data:
            raise GankitError(
                f"the data of {str(directory)!r} changed since its checkpoint (then {saved}, "
                f"now {now}); restore the data, or pass --allow-changed-data to go on with it"
            )
        trainer = build_trainer(config, data, world)
        checkpoint.restore(trainer)
        if world.is_main:
            log.info("resuming %s at step %d of %d", directory, checkpoint.step, config.steps)
        return _train_to_the_end(trainer, data, directory, resumed=True)


def _train_to_the_end(
    trainer: Trainer, data: VectorData | ImageData, directory: Path, resumed: bool
) -> Run:
    """Train from ``trainer.step`` to the last step, then write the weights, summary and plots.

    Under torchrun, rank 0 alone evaluates, reports and writes; the others train beside it and
    wait for the run folder.
    """
    config, world = trainer.config, trainer.world
    first_step = trainer.step
    evaluator = Evaluator(config, data, trainer.num_classes, seed=config.seed)
    pictures = (
        ImageProgress(config, trainer.num_classes, directory)
        if isinstance(data, ImageData)
        else None
    )

    def evaluate() -> dict[str, Any]:
        if pictures is not None:
            pictures.draw_step(trainer.sampling_generator, trainer.step)
        return evaluator(trainer.sampling_generator)

    reporters: list[Reporter] = []
    if world.is_main:
        metrics_log = run_folder.MetricsLog(directory / run_folder.METRICS)
        reporters.append(metrics_log)
        if config.tensorboard:
            reporters.append(TensorBoardLog(directory))
        reporters.append(ProgressBar(config.steps, enabled=config.progress, initial=first_step))
    checkpoints = Checkpoints(
        directory / run_folder.CHECKPOINTS, keep=config.keep_checkpoints, world=world
    )
    started = time.perf_counter()
    try:
        if resumed:  # forget what was reported after the checkpoint
            for reporter in reporters:
                reporter.rewind(first_step)
        with torch_threads(config.threads):
            fit_guarded(trainer, checkpoints, reporters, evaluate if world.is_main else None)
    finally:
        for reporter in reporters:
            reporter.close()
    seconds = time.perf_counter() - started

    sampler, discriminator = trainer.sampling_generator.cpu(), trainer.discriminator.cpu()
    run = Run(config, data.standardizer, sampler, discriminator, directory, data=data)
    if not world.is_main:
        world.barrier()  # until rank 0 has written the run folder
        return run
    run.save(directory)
    if evaluator.last_samples is None:  # resumed at the last step: nothing was trained
        evaluator(sampler)
    trained = config.steps - first_step
    summary = {
        **metrics_log.records[-1],
        "seconds": round(seconds, 2),
        "steps_per_second": round(trained / seconds, 1) if trained else None,
    }
    if resumed:
        summary["resumed_from"] = first_step
    if isinstance(data, ImageData | TableData):
        summary.update(data.describe())
    run.write_summary(summary)
    plot_losses(metrics_log.records, directory / run_folder.LOSSES)
    if pictures is not None:
        pictures.draw(sampler, directory / run_folder.SAMPLES)
        pictures.draw_nearest(evaluator.last_samples, data.images.cpu())
    elif isinstance(data, TableData):
        synthetic = data.transformer.inverse_transform(evaluator.last_samples.numpy())
        kinds = {column.name: column.kind for column in data.columns}
        plot_columns(data.heldout, synthetic, kinds, directory / run_folder.TABLE_COLUMNS)
        plot_associations(data.heldout, synthetic, kinds, directory / run_folder.TABLE_PAIRS)
    else:
        plot_samples(
            evaluator.last_samples.numpy(),
            data,
            directory / run_folder.SAMPLES,
            title=f"{data.name}: G after {config.steps} steps",
        )
    world.barrier()
    return run


def default_run_folder(name: str) -> Path:
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
