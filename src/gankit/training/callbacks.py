"""What a training run reports while it goes: TensorBoard and the progress bar (the metrics log,
:class:`gankit.output.run_folder.MetricsLog`, is a reporter too).

Each reporter is a hook of :meth:`Trainer.fit` and can ``rewind(step)``: forget what it
reported after ``step``, when a run goes on from the checkpoint of that step.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

TENSORBOARD_TAGS = {"loss_d": "loss/D", "loss_g": "loss/G", "d_real": "D/real", "d_fake": "D/fake"}
"""The TensorBoard tag of each per-step stat; evaluation metrics go under ``metrics/``."""
_EVENTS = re.compile(r"events\.out\.tfevents\.(\d+)\.")


class Reporter(Protocol):
    """A hook of :meth:`Trainer.fit` that can forget what it reported after a step, and close."""

    def __call__(self, record: dict[str, Any]) -> None: ...
    def rewind(self, step: int) -> None: ...
    def close(self) -> None: ...


class TensorBoardLog:
    """TensorBoard event files in the run folder: losses, mean D outputs and metrics by step."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._purge_step: int | None = None
        self._writer: Any = None  # opened at the first record: no empty event files

    def __call__(self, record: dict[str, Any]) -> None:
        if self._writer is None:
            self._writer = _summary_writer(self.directory, self._purge_step)
        for key, value in record.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                tag = TENSORBOARD_TAGS.get(key, f"metrics/{key}")
                self._writer.add_scalar(tag, value, record["step"])
        self._writer.flush()  # a killed run keeps what it logged, as metrics.jsonl does

    def rewind(self, step: int) -> None:
        """Hide the events after ``step`` from TensorBoard (the next file's purge_step marker)."""
        self.close()
        self._purge_step = step + 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ProgressBar:
    """A tqdm bar showing step, both losses, mean D(x), mean D(G(z)) and the time left."""

    def __init__(self, total: int, enabled: bool = True, initial: int = 0) -> None:
        # disable=None lets tqdm switch itself off when stderr is not a terminal.
        self._bar = tqdm(
            total=total,
            initial=initial,
            unit="step",
            dynamic_ncols=True,
            disable=None if enabled else True,
        )

    def __call__(self, record: dict[str, Any]) -> None:
        self._bar.update(record["step"] - self._bar.n)
        self._bar.set_postfix(
            {
                "L_D": f"{record['loss_d']:.3f}",
                "L_G": f"{record['loss_g']:.3f}",
                "D(x)": f"{record['d_real']:.2f}",
                "D(G(z))": f"{record['d_fake']:.2f}",
            },
            refresh=False,
        )

    def rewind(self, step: int) -> None:
        self._bar.n = step
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def _summary_writer(directory: Path, purge_step: int | None) -> Any:
    # Imported here: tensorboard takes a second to import, and runs may switch it off.
    from torch.utils.tensorboard import SummaryWriter

    if purge_step is not None:
        # TensorBoard reads event files in name order, a name starts with the second it was
        # made in, and the purge marker hides only events read before it: so this file must
        # be made in a later second than every earlier one.
        made = [int(m.group(1)) for p in directory.iterdir() if (m := _EVENTS.match(p.name))]
        time.sleep(max(0.0, max(made, default=0) + 1 - time.time()))
    return SummaryWriter(directory, purge_step=purge_step)
