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
from gankit.data.table_transformer import TableTransformer
from gankit.errors import GankitError
from gankit.files import write_atomically
from gankit.output import run_folder
from gankit.run import Run
from gankit.threads import torch_threads
from gankit.training.checkpoint import Checkpoints
from gankit.training.distributed import World, process_group
from gankit.training.engine import Trainer, build_trainer
from gankit.training.guard import fit_guarded
from gankit.training.population import STATE as POPULATION_STATE
from gankit.training.population import (
    PopulationRun,
    is_population,
    resume_population,
    train_population,
)
from gankit.training.run_outputs import RunOutputs

log = logging.getLogger(__name__)


def train(
    config: Config | dict[str, Any] | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
) -> Run | PopulationRun:
    """Train a GAN and write its run folder; returns the trained :class:`~gankit.run.Run`.

    With ``population.seeds`` > 1 (or ``population.sweep``), trains the members together and
    writes the population's folder, one run folder per member in it; returns a
    :class:`~gankit.training.population.PopulationRun` (see :mod:`gankit.training.population`).

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
    if is_population(config):
        return train_population(config, data, out or default_run_folder(data.name), overwrite)
    with process_group() as world, contextlib.ExitStack() as stack:
        data = _encoded_as_on_rank_0(data, world)
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
) -> Run | PopulationRun:
    """Continue a stopped run from its newest readable checkpoint, with the run's own config.

    A population's folder continues every member still training, each from its own newest
    checkpoint.

    On the CPU the result is bit-identical to an uninterrupted run. ``metrics.jsonl`` is cut
    back to the checkpoint's step, so no step is logged twice. ``device`` (auto, cpu or cuda)
    overrides the one the run was started with. Data that changed since the checkpoint was
    written (another size or content) stops the resume unless ``allow_changed_data``.
    """
    directory = Path(directory)
    if (directory / POPULATION_STATE).is_file():
        return resume_population(directory, device, allow_changed_data)
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
        data = _encoded_as_on_rank_0(load_data(config), world)
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


def _encoded_as_on_rank_0(
    data: VectorData | ImageData | TableData, world: World
) -> VectorData | ImageData | TableData:
    """``data``, a table encoded by rank 0's fit of its transformer in every process.

    Each process fits the same seeded mixtures, but float round-off (another machine's maths
    library) could make a fit differ, and with it the encoded rows or even G's width.
    """
    if not isinstance(data, TableData) or world.size == 1:
        return data
    fitted = world.share(lambda: data.transformer.to_json().encode()).decode()
    return data if world.is_main else data.encoded_by(TableTransformer.from_json(fitted))


def _train_to_the_end(
    trainer: Trainer, data: VectorData | ImageData, directory: Path, resumed: bool
) -> Run:
    """Train from ``trainer.step`` to the last step, then write the weights, summary and plots.

    Under torchrun, rank 0 alone evaluates, reports and writes; the others train beside it and
    wait for the run folder.
    """
    outputs = RunOutputs(trainer, data, directory)
    started = time.perf_counter()
    try:
        if resumed:  # forget what was reported after the checkpoint
            outputs.rewind()
        with torch_threads(trainer.config.threads):
            evaluate = outputs.evaluate if trainer.world.is_main else None
            fit_guarded(trainer, outputs.checkpoints, outputs.reporters, evaluate)
    finally:
        outputs.close()
    return outputs.finish(time.perf_counter() - started, resumed)


def default_run_folder(name: str) -> Path:
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
