"""The divergence guard: what a run does when a loss or a parameter becomes NaN or Inf.

The trainer checks every step (:meth:`Trainer.check_finite`). Under ``on_divergence=stop``
the run stops with one line naming the network and the step, and its folder keeps the last
good checkpoint. Under ``restore`` it goes back to that checkpoint, multiplies both learning
rates by ``divergence_lr_factor`` and goes on; diverging again before the next checkpoint
multiplies them by the factor once more, and after ``MAX_RESTORES`` tries from the same
checkpoint the run stops as under ``stop``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from gankit.errors import DivergenceError
from gankit.training.callbacks import Reporter
from gankit.training.checkpoint import Checkpoints
from gankit.training.engine import Trainer

log = logging.getLogger(__name__)

MAX_RESTORES = 3


def fit_guarded(
    trainer: Trainer,
    checkpoints: Checkpoints,
    reporters: Sequence[Reporter],
    evaluate: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Train to ``config.steps``, checkpointing on schedule and guarding against divergence."""
    guard = DivergenceGuard(trainer, checkpoints, reporters)
    if trainer.step == 0:
        guard.checkpoint()  # a good state to go back to before the first step
    while True:
        try:
            trainer.fit(trainer.config.steps, reporters, evaluate, guard.checkpoint)
            return
        except DivergenceError as error:
            guard.recover(error)


class DivergenceGuard:
    """One run's checkpoints and its answer to divergence: stop, or restore and go on.

    A population (:mod:`gankit.training.population`) keeps one per member, so that a member
    that diverges stops or goes back alone.
    """

    def __init__(
        self, trainer: Trainer, checkpoints: Checkpoints, reporters: Sequence[Reporter]
    ) -> None:
        self.trainer, self.checkpoints, self.reporters = trainer, checkpoints, reporters
        self.restores = 0  # since the last checkpoint written

    def checkpoint(self) -> None:
        """Write the trainer's state as a checkpoint: the good state to go back to."""
        self.checkpoints.save(self.trainer)
        self.restores = 0

    def recover(self, error: DivergenceError) -> None:
        """Go back to the last checkpoint with lower learning rates (``on_divergence=restore``),
        or raise a :class:`DivergenceError` that names the checkpoint to go on from."""
        trainer, config = self.trainer, self.trainer.config
        last = self.checkpoints.newest()
        if config.on_divergence == "stop" or self.restores == MAX_RESTORES:
            restores = self.restores
            tried = f" after {restores} restores at lower learning rates" if restores else ""
            raise DivergenceError(
                f"{error}{tried}; the last good checkpoint is step {last.step} "
                f"({last.path}); lower the learning rates"
                + ("" if restores else ", or set on_divergence=restore"),
                error.network,
                error.step,
            ) from None
        self.restores += 1
        last.restore(trainer)
        factor = config.divergence_lr_factor**self.restores
        trainer.scale_learning_rates(factor)
        for reporter in self.reporters:
            reporter.rewind(trainer.step)
        if trainer.world.is_main:  # every process restores alike; one says so
            log.warning(
                "%s; went back to step %d with the learning rates x%g",
                error,
                trainer.step,
                factor,
            )
