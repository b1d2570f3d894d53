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
    config = trainer.config
    restores = 0  # since the last checkpoint written

    def checkpoint() -> None:
        nonlocal restores
        checkpoints.save(trainer)
        restores = 0

    if trainer.step == 0:
        checkpoint()  # a good state to go back to before the first step
    while True:
        try:
            trainer.fit(config.steps, reporters, evaluate, checkpoint)
            return
        except DivergenceError as error:
            last = checkpoints.newest()
            if config.on_divergence == "stop" or restores == MAX_RESTORES:
                tried = f" after {restores} restores at lower learning rates" if restores else ""
                raise DivergenceError(
                    f"{error}{tried}; the last good checkpoint is step {last.step} "
                    f"({last.path}); lower the learning rates"
                    + ("" if restores else ", or set on_divergence=restore"),
                    error.network,
                    error.step,
                ) from None
            restores += 1
            last.restore(trainer)
            factor = config.divergence_lr_factor**restores
            trainer.scale_learning_rates(factor)
            for reporter in reporters:
                reporter.rewind(trainer.step)
            if trainer.world.is_main:  # every process restores alike; one says so
                log.warning(
                    "%s; went back to step %d with the learning rates x%g",
                    error,
                    trainer.step,
                    factor,
                )
