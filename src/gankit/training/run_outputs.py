"""What a training run reports into its run folder while it trains, and writes once it is done.

One place for both, so that a run trained alone (:mod:`gankit.training.run_training`) and a
member of a population (:mod:`gankit.training.population`) write the same run folder: the
metrics log, TensorBoard and the progress bar while training; the weights, ``summary.json``
and the pictures (for a table, also its nearest rows) at the end.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gankit.data import ImageData, TableData, VectorData
from gankit.evaluation import Evaluator
from gankit.files import write_atomically
from gankit.metrics.tables import nearest_rows_beside
from gankit.output import run_folder
from gankit.output.figures import plot_losses, plot_samples
from gankit.output.table_figures import plot_associations, plot_columns
from gankit.run import Run
from gankit.training.callbacks import ProgressBar, Reporter, TensorBoardLog
from gankit.training.checkpoint import Checkpoints
from gankit.training.engine import Trainer
from gankit.training.image_progress import ImageProgress

log = logging.getLogger(__name__)

NEAREST_ROWS = 10
"""How many of a table run's synthetic rows closest to a training row ``nearest_rows.csv`` shows."""


class RunOutputs:
    """The evaluator, reporters, checkpoints and pictures of one run, from ``trainer.step``.

    Under torchrun, rank 0 alone evaluates, reports and writes. ``progress`` switches the
    progress bar off (a population shows one, not one per member).
    """

    def __init__(
        self,
        trainer: Trainer,
        data: VectorData | ImageData,
        directory: Path,
        progress: bool = True,
    ) -> None:
        config, world = trainer.config, trainer.world
        self.trainer, self.data, self.directory = trainer, data, directory
        self.first_step = trainer.step
        self.evaluator = Evaluator(config, data, trainer.num_classes, seed=config.seed)
        self.pictures = (
            ImageProgress(config, trainer.num_classes, directory)
            if isinstance(data, ImageData)
            else None
        )
        self.reporters: list[Reporter] = []
        if world.is_main:
            self.metrics_log = run_folder.MetricsLog(directory / run_folder.METRICS)
            self.reporters.append(self.metrics_log)
            if config.tensorboard:
                self.reporters.append(TensorBoardLog(directory))
            self.reporters.append(
                ProgressBar(
                    config.steps, enabled=config.progress and progress, initial=self.first_step
                )
            )
        self.checkpoints = Checkpoints(
            directory / run_folder.CHECKPOINTS, keep=config.keep_checkpoints, world=world
        )

    def evaluate(self) -> dict[str, Any]:
        """The metrics of the sampling G now (and, for images, its picture of this step)."""
        trainer = self.trainer
        if self.pictures is not None:
            self.pictures.draw_step(trainer.sampling_generator, trainer.step)
        return self.evaluator(trainer.sampling_generator)

    def rewind(self) -> None:
        """Forget what was reported after the step the run goes on from."""
        for reporter in self.reporters:
            reporter.rewind(self.first_step)

    def close(self) -> None:
        for reporter in self.reporters:
            reporter.close()

    def finish(self, seconds: float, resumed: bool) -> Run:
        """Write the weights, summary and pictures of the trained run; ``seconds`` it trained."""
        trainer, data, directory = self.trainer, self.data, self.directory
        config, world, evaluator, pictures = (
            trainer.config,
            trainer.world,
            self.evaluator,
            self.pictures,
        )
        early_stop = trainer.early_stop
        if early_stop is not None:  # the networks of the best evaluation, not the last
            early_stop.restore_best(trainer.networks)
        sampler, discriminator = trainer.sampling_generator.cpu(), trainer.discriminator.cpu()
        run = Run(config, data.standardizer, sampler, discriminator, directory, data=data)
        if not world.is_main:
            world.barrier()  # until rank 0 has written the run folder
            return run
        run.save(directory)
        summary = dict(self.metrics_log.records[-1])
        restored = early_stop is not None and early_stop.best_step != trainer.step
        shown_step = early_stop.best_step if restored else trainer.step
        if evaluator.last_samples is None or restored:
            # resumed at the last step (nothing was scored), or the best networks are back
            summary.update(evaluator(sampler))
        trained = trainer.step - self.first_step
        summary.update(
            seconds=round(seconds, 2),
            steps_per_second=round(trained / seconds, 1) if trained else None,
        )
        if early_stop is not None:
            summary["early_stop"] = early_stop.summary()
            log.info("%s: %s", directory, summary["early_stop"]["reason"])
        if resumed:
            summary["resumed_from"] = self.first_step
        if isinstance(data, ImageData | TableData):
            summary.update(data.describe())
        run.write_summary(summary)
        plot_losses(self.metrics_log.records, directory / run_folder.LOSSES)
        if pictures is not None:
            pictures.draw(sampler, directory / run_folder.SAMPLES)
            pictures.draw_nearest(evaluator.last_samples, data.images.cpu())
        elif isinstance(data, TableData):
            synthetic = data.transformer.inverse_transform(evaluator.last_samples.numpy())
            kinds = {column.name: column.kind for column in data.columns}
            plot_columns(data.heldout, synthetic, kinds, directory / run_folder.TABLE_COLUMNS)
            plot_associations(data.heldout, synthetic, kinds, directory / run_folder.TABLE_PAIRS)
            nearest = nearest_rows_beside(synthetic, data.frame, kinds, NEAREST_ROWS)
            write_atomically(directory / run_folder.TABLE_NEAREST, nearest.to_csv(index=False))
        else:
            plot_samples(
                evaluator.last_samples.numpy(),
                data,
                directory / run_folder.SAMPLES,
                title=f"{data.name}: G after {shown_step} steps",
            )
        world.barrier()
        return run
