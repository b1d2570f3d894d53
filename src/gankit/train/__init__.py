"""``gankit.train`` and ``gankit.resume``: a config, or a stopped run, to a finished run folder.

Both train in every process torchrun started (see :mod:`gankit.train.distributed`); rank 0
alone writes the run folder, and every process returns once it is complete.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config, load_config
from gankit.data import ImageData, class_count, load_data
from gankit.data.vectors import VectorData
from gankit.errors import GankitError
from gankit.metrics import evaluate_samples
from gankit.nets import build_discriminator, build_generator
from gankit.objectives import OBJECTIVES
from gankit.plots import plot_losses, plot_samples
from gankit.run import CONFIG_FILE, METRICS_FILE, Run
from gankit.threads import torch_threads
from gankit.train.callbacks import MetricsLog, ProgressBar, Reporter, TensorBoardLog
from gankit.train.checkpoint import FOLDER as CHECKPOINT_FOLDER
from gankit.train.checkpoint import Checkpoints
from gankit.train.distributed import SINGLE, World, process_group
from gankit.train.engine import Trainer
from gankit.train.guard import fit_guarded
from gankit.train.image_report import ImageReport


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
    if Path(config.data).exists():  # a user's file: the run folder must find it again
        config = dataclasses.replace(config, data=str(Path(config.data).resolve()))
    with process_group() as world:
        trainer = build_trainer(config, data, world)

        def prepare() -> bytes:
            directory = prepare_run_folder(out or default_run_folder(data.name), overwrite)
            (directory / CONFIG_FILE).write_text(config.to_yaml())
            return str(directory).encode()

        directory = Path(world.share(prepare).decode())
        return _train_to_the_end(trainer, data, directory, resumed=False)


def resume(directory: str | Path, device: str | None = None) -> Run:
    """Continue a stopped run from its newest readable checkpoint, with the run's own config.

    On the CPU the result is bit-identical to an uninterrupted run. ``metrics.jsonl`` is cut
    back to the checkpoint's step, so no step is logged twice. ``device`` (auto, cpu or cuda)
    overrides the one the run was started with.
    """
    directory = Path(directory)

    def check_run_folder() -> bytes:
        if not (directory / CONFIG_FILE).is_file():
            raise GankitError(
                f"{str(directory)!r} is not a gankit run folder (no {CONFIG_FILE}); "
                "give the --out folder of a `gankit train`"
            )
        return b""

    with process_group() as world:
        world.share(check_run_folder)
        checkpoint = Checkpoints(directory / CHECKPOINT_FOLDER, world=world).newest()
        config = checkpoint.config
        if device is not None:
            config = load_config(base={**config.to_dict(), "device": device})
        data = load_data(config)
        trainer = build_trainer(config, data, world)
        checkpoint.restore(trainer)
        if world.is_main:
            print(
                f"gankit: resuming {directory} at step {checkpoint.step} of {config.steps}",
                file=sys.stderr,
            )
        return _train_to_the_end(trainer, data, directory, resumed=True)


def build_trainer(config: Config, data: VectorData | ImageData, world: World = SINGLE) -> Trainer:
    """G, D and their trainer, initialised from ``config.seed`` (the same in every process)."""
    torch.manual_seed(config.seed)
    classes = class_count(config, data)
    generator = build_generator(config, data.shape, classes)
    discriminator = build_discriminator(config, data.shape, classes)
    return Trainer(config, data, generator, discriminator, OBJECTIVES[config.loss], world)


def _train_to_the_end(
    trainer: Trainer, data: VectorData | ImageData, directory: Path, resumed: bool
) -> Run:
    """Train from ``trainer.step`` to the last step, then write the weights, summary and plots.

    Under torchrun, rank 0 alone evaluates, reports and writes; the others train beside it and
    wait for the run folder.
    """
    config, world = trainer.config, trainer.world
    first_step = trainer.step
    eval_noise = trainer.sample_noise(
        config.eval_samples, torch.Generator(trainer.device).manual_seed(config.seed)
    )

    @torch.no_grad()
    def evaluate() -> dict[str, Any]:
        sampler = trainer.sampling_generator.eval()
        samples = data.standardizer.inverse(sampler(eval_noise).float().cpu())
        sampler.train()
        return evaluate_samples(samples, data, seed=config.seed)

    images = ImageReport(trainer, data, directory) if isinstance(data, ImageData) else None
    if images is not None:
        evaluate = images.evaluate  # metrics against the held-out images, and grids

    reporters: list[Reporter] = []
    if world.is_main:
        log = MetricsLog(directory / METRICS_FILE)
        reporters.append(log)
        if config.tensorboard:
            reporters.append(TensorBoardLog(directory))
        reporters.append(ProgressBar(config.steps, enabled=config.progress, initial=first_step))
    checkpoints = Checkpoints(
        directory / CHECKPOINT_FOLDER, keep=config.keep_checkpoints, world=world
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
    trained = config.steps - first_step
    summary = {
        **log.records[-1],
        "seconds": round(seconds, 2),
        "steps_per_second": round(trained / seconds, 1) if trained else None,
    }
    if resumed:
        summary["resumed_from"] = first_step
    if images is not None:
        summary.update(data.describe())
    run.write_summary(summary)
    plot_losses(log.records, directory / "losses.png")
    if images is not None:
        images.draw(directory / "samples.png")
        images.draw_nearest(directory / "nearest.png")
    else:
        plot_samples(
            run.sample(config.eval_samples, seed=config.seed),
            data,
            directory / "samples.png",
            title=f"{data.name}: G after {config.steps} steps",
        )
    world.barrier()
    return run


def default_run_folder(name: str) -> Path:
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_folder(directory: str | Path, overwrite: bool) -> Path:
    """Create the run folder; refuse to touch an existing non-empty one unless asked."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise GankitError(f"--out {str(directory)!r} is a file; choose a folder path")
    if directory.is_dir() and any(directory.iterdir()):
        if not overwrite:
            raise GankitError(
                f"run folder {str(directory)!r} already exists; choose another "
                "--out or pass --overwrite to replace it"
            )
        if not (directory / CONFIG_FILE).is_file():
            raise GankitError(
                f"{str(directory)!r} is not a gankit run folder; refusing to "
                "overwrite it, choose another --out"
            )
        shutil.rmtree(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ".write-test").touch()
        (directory / ".write-test").unlink()
    except OSError as error:
        raise GankitError(
            f"cannot write the run folder {str(directory)!r} "
            f"({error.strerror}); choose a writable --out"
        ) from None
    return directory


__all__ = ["Trainer", "resume", "train"]
