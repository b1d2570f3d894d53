"""What a training run reports while it goes: the metrics log and the progress bar."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm


class MetricsLog:
    """Appends each record to ``metrics.jsonl`` (one JSON object a line) and keeps it in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._file = path.open("a")

    def __call__(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        self._file.write(json.dumps(_json_safe(record)) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class ProgressBar:
    """A tqdm bar showing step, both losses, mean D(x), mean D(G(z)) and the time left."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        # disable=None lets tqdm switch itself off when stderr is not a terminal.
        self._bar = tqdm(
            total=total, unit="step", dynamic_ncols=True, disable=None if enabled else True
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

    def close(self) -> None:
        self._bar.close()


def _json_safe(record: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats become null: JSON has no NaN or Infinity."""
    return {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()
    }
