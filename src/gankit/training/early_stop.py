"""Early stopping: train until a held-out metric stops improving (``steps=auto``).

At each evaluation (every ``eval_every`` steps) the metric named by ``stop.metric`` is
compared with the best so far. An improvement of more than ``stop.min_delta`` makes it the
new best, and G, D and the EMA of G are copied aside; after ``stop.patience`` evaluations
without one, training stops and the copies are put back, so the run folder holds the
networks of its best evaluation. ``steps`` is the cap.

``auto`` picks what the data's users judge a generator by: the class accuracy of a
conditional G's images (does a "7" look like a 7 to the data set's own classifier), the
quality score of a table's rows, and the Frechet distance to held-out data otherwise.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from torch import nn

from gankit.errors import ConfigError
from gankit.training.distributed import SINGLE, World

IMAGES, TABLES, VECTORS, MIXTURES = "images", "tables", "vectors", "mixtures"

METRICS: dict[str, tuple[int, tuple[str, ...]]] = {
    # name: (+1 if higher is better, -1 if lower), the kinds of data whose evaluation reports it
    "class_accuracy": (+1, (IMAGES,)),  # of a conditional G
    "precision": (+1, (IMAGES,)),
    "recall": (+1, (IMAGES,)),
    "density": (+1, (IMAGES,)),
    "coverage": (+1, (IMAGES,)),
    "kid": (-1, (IMAGES,)),
    "frechet": (-1, (IMAGES, VECTORS, MIXTURES)),
    "quality": (+1, (TABLES,)),
    "modes": (+1, (MIXTURES,)),
    "high_quality": (+1, (MIXTURES,)),
    "reverse_kl": (-1, (MIXTURES,)),
    "log_likelihood": (+1, (MIXTURES,)),
}
"""The metrics a run can stop on: which way is better, and which data's evaluation has it."""


def stop_metric(requested: str, kind: str, conditional: bool) -> str:
    """The metric ``stop.metric`` names for data of ``kind`` (images, tables, vectors, or
    mixtures: vectors with a known density), checked to be one its evaluation reports."""
    if requested == "auto":
        if kind == IMAGES:
            return "class_accuracy" if conditional else "frechet"
        return "quality" if kind == TABLES else "frechet"
    if requested not in METRICS:
        raise ConfigError(
            f"stop.metric={requested!r} is not a metric a run can stop on; use none, auto or "
            f"one of {', '.join(sorted(METRICS))}"
        )
    kinds = METRICS[requested][1]
    if kind not in kinds or (requested == "class_accuracy" and not conditional):
        what = "conditional images" if requested == "class_accuracy" else " and ".join(kinds)
        raise ConfigError(
            f"stop.metric={requested} is reported for {what} only, and this run trains on "
            f"{kind}{' (unconditional)' if kind == IMAGES and not conditional else ''}; "
            "use stop.metric=auto"
        )
    return requested


class EarlyStop:
    """Watches one metric over a trainer's evaluations; keeps the networks of the best one."""

    def __init__(self, metric: str, patience: int, min_delta: float) -> None:
        self.metric, self.patience, self.min_delta = metric, patience, min_delta
        self.sign = METRICS[metric][0]  # better: a larger sign * value
        self.best: float | None = None
        self.best_step = 0
        self.waited = 0  # evaluations since the best
        self.best_weights: dict[str, Any] | None = None
        self.stopped_at: int | None = None

    def observe(
        self, value: float | None, step: int, networks: dict[str, nn.Module], world: World = SINGLE
    ) -> bool:
        """Account for the evaluation at ``step``, whose metric is ``value``; True when
        training should stop now.

        Under torchrun rank 0 alone evaluates: it judges, and every process follows (each
        holds the same networks, so each keeps the same copy of the best).
        """

        def judge() -> bytes:
            finite = value is not None and math.isfinite(value)
            improved = finite and (
                self.best is None or self.sign * (value - self.best) > self.min_delta
            )
            return f"{int(improved)} {value if finite else 'nan'}".encode()

        improved, shared = world.share(judge).decode().split()
        if improved == "1":
            self.best, self.best_step, self.waited = float(shared), step, 0
            self.best_weights = {
                name: copy.deepcopy(net.state_dict()) for name, net in networks.items()
            }
            return False
        self.waited += 1
        if self.waited >= self.patience:
            self.stopped_at = step
            return True
        return False

    def restore_best(self, networks: dict[str, nn.Module]) -> None:
        """Put the networks of the best evaluation back."""
        if self.best_weights is not None:
            for name, net in networks.items():
                net.load_state_dict(self.best_weights[name])

    def reason(self) -> str:
        """Why training stopped, in words, for the summary and the command line."""
        direction = "risen" if self.sign > 0 else "fallen"
        if self.best is None:
            return f"{self.metric} was never a finite number in {self.patience} evaluations"
        return (
            f"{self.metric} had not {direction} for {self.patience} evaluations "
            f"(by more than {self.min_delta:g}): best {self.best:.4g} at step {self.best_step}"
        )

    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` says about the stop (``stopped_at`` None: ran to the cap)."""
        return {
            "metric": self.metric,
            "best": self.best,
            "best_step": self.best_step,
            "stopped_at": self.stopped_at,
            "reason": self.reason() if self.stopped_at is not None else "reached the step cap",
        }

    def state_dict(self) -> dict[str, Any]:
        """The watch so far, best networks included: a resumed run stops where this one would."""
        return {
            "best": self.best,
            "best_step": self.best_step,
            "waited": self.waited,
            "stopped_at": self.stopped_at,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = state["best"], int(state["best_step"])
        self.waited, self.stopped_at = int(state["waited"]), state["stopped_at"]
        self.best_weights = state["best_weights"]
