"""The run folder: every file name in it, preparing it, locking it, and writing each file whole.

A run folder (``gankit train --out RUN``) holds::

    config.yaml          the resolved config, each setting's source in a comment
    metrics.jsonl        one JSON record a line: the step's stats, and metrics when evaluated
    summary.json         one flat JSON object: the final metrics, and which samples they scored
    model.safetensors    G (the EMA copy when enabled), D and the data's scaling
    refined_discriminator.safetensors   after ``gankit refine-d``: D trained alone against G
    checkpoints/         step-NNNNNNNN.safetensors, to resume from
    losses.png, samples.png (for images also nearest.png, grids/step_NNNNNN.png; for tables
        columns.png and associations.png instead, real beside synthetic)
    nearest_rows.csv     for tables: the synthetic rows closest to a training row, each beside it
    events.out.tfevents.*  TensorBoard
    .lock                while a process trains, resumes or evaluates the run

A study folder (``gankit augment``) holds ``study.yaml``, ``study.json``, ``table.md`` and
``accuracy.png``, and one
folder per cell holding ``cell.json``. Every file but ``metrics.jsonl`` is written by
:func:`gankit.files.write_atomically`: replaced whole or not at all. ``metrics.jsonl`` grows a
line at a time (one ``write`` call each), and :func:`read_metrics` is its one reader: a last line
cut short by a crash is skipped, damage anywhere else is an error naming the line.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.files import write_atomically

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
WEIGHTS = "model.safetensors"
REFINED_D = "refined_discriminator.safetensors"
CHECKPOINTS = "checkpoints"
LOSSES = "losses.png"
SAMPLES = "samples.png"
NEAREST = "nearest.png"
GRIDS = "grids"
TABLE_COLUMNS = "columns.png"
TABLE_PAIRS = "associations.png"
TABLE_NEAREST = "nearest_rows.csv"
REPORT = "report.html"
LOCK = ".lock"
STUDY_CONFIG = "study.yaml"
STUDY = "study.json"
STUDY_TABLES = "table.md"
STUDY_ACCURACY = "accuracy.png"
STUDY_PR_CURVES = "pr_curves.png"  # a rare-event study's
STUDY_GAINS = "gains.png"
CELL = "cell.json"


def prepare(directory: str | Path, overwrite: bool = False) -> Path:
    """Create a run (or study) folder; refuse to touch an existing non-empty one unless asked.

    With ``overwrite`` only a folder that gankit wrote (it has ``config.yaml`` or
    ``study.yaml``) is replaced, and only when no process holds its lock.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise GankitError(f"--out {str(directory)!r} is a file; choose a folder path")
    if directory.is_dir() and any(directory.iterdir()):
        if not overwrite:
            raise GankitError(
                f"run folder {str(directory)!r} already exists; choose another "
                "--out or pass --overwrite to replace it"
            )
        if not ((directory / CONFIG).is_file() or (directory / STUDY_CONFIG).is_file()):
            raise GankitError(
                f"{str(directory)!r} is not a gankit run folder; refusing to "
                "overwrite it, choose another --out"
            )
        holder = _live_holder(directory / LOCK)
        if holder is not None:
            raise GankitError(_held_message(directory, holder))
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


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented JSON, whole or not at all (non-finite floats become null)."""
    write_atomically(path, json.dumps(_json_safe(value), indent=2) + "\n")


def read_json(path: Path) -> Any:
    """A JSON file of the folder, or one line naming the file and the fix."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise GankitError(f"cannot read {str(path)!r} ({reason}); restore or rewrite it") from None


def read_summary(directory: Path) -> dict[str, Any]:
    """The run's summary.json, or {} if it has none yet."""
    path = Path(directory) / SUMMARY
    if not path.is_file():
        return {}
    summary = read_json(path)
    if not isinstance(summary, dict):
        raise GankitError(
            f"{str(path)!r} is not a JSON object; restore it, or `gankit evaluate` the run to "
            "write it again"
        )
    return summary


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl``, or [] when there is none.

    The last line is skipped when it does not parse (a crash cut it short); any other line that
    does not parse is an error naming it.
    """
    if not path.is_file():
        return []
    lines = path.read_text(errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            if not (isinstance(record, dict) and isinstance(record.get("step"), int)):
                raise ValueError("not a record with an integer step")
        except ValueError as error:
            if number == len(lines):
                break
            raise GankitError(
                f"{str(path)!r} line {number} is not a metrics record ({error}); delete that line"
            ) from None
        records.append(record)
    return records


class MetricsLog:
    """Appends each record to ``metrics.jsonl`` and keeps it in memory; a hook of the trainer.

    Each line is one ``write`` call on a file opened for appending, so a crash leaves at most
    a last line cut short, which :func:`read_metrics` skips.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def __call__(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        os.write(self._fd, (json.dumps(_json_safe(record)) + "\n").encode())

    def rewind(self, step: int) -> None:
        """Keep the records up to ``step`` (a run going on from that step's checkpoint)."""
        kept = [record for record in read_metrics(self.path) if record["step"] <= step]
        os.close(self._fd)
        write_atomically(self.path, "".join(json.dumps(record) + "\n" for record in kept))
        self.records = kept
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


@contextlib.contextmanager
def locked(directory: Path, what: str) -> Iterator[None]:
    """Hold the folder's lock while ``what`` (training, resuming, evaluating) runs.

    A second process stops with one line naming the holder. A lock left by a process that
    no longer runs on this host is taken over.
    """
    path = Path(directory) / LOCK
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "what": what, "since": time.time()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _live_holder(path)
            if holder is not None:
                raise GankitError(_held_message(directory, holder)) from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(mine))
        break
    else:
        raise GankitError(f"cannot take the lock {str(path)!r}; remove it and try again")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _live_holder(path: Path) -> dict[str, Any] | None:
    """Who holds the lock at ``path``, or None when nobody does (no lock, or a stale one)."""
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # half-written by a process killed while taking it
    if not isinstance(holder, dict):
        return None
    if holder.get("host") != socket.gethostname():
        return holder  # cannot tell whether a process on another machine still runs
    return holder if _process_runs(holder.get("pid")) else None


def _process_runs(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _held_message(directory: Path, holder: dict[str, Any]) -> str:
    return (
        f"{str(directory)!r} is in use: process {holder.get('pid')} on {holder.get('host')} is "
        f"{holder.get('what', 'using it')}; wait for it, or stop it first"
    )


def _json_safe(value: Any) -> Any:
    """Non-finite floats become null: JSON has no NaN or Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
