"""Checkpoints: all a run needs to go on exactly where it stopped, one pickle-free file a step.

``RUN/checkpoints/step-00002000.safetensors`` holds the tensors of :meth:`Trainer.state_dict`
(weights, the EMA copy, optimizer moments, generator states) as safetensors, and everything
else (step, config, param groups, schedulers, the global torch, NumPy and Python random
states) as JSON in the file's header, where each tensor stands as ``{"$tensor": name}``. A
SHA-256 of that JSON and the tensor bytes catches damage that still parses.

Each file is written under a temporary name in the same folder, flushed, fsynced and renamed
over its final name, then the folder is fsynced: a crash at any moment leaves every earlier
checkpoint whole. Reading never runs code from the file: its header is parsed as JSON and
checked before safetensors reads a tensor, and nothing is unpickled.

Under torchrun rank 0 alone writes, and reads: it sends the bytes of the checkpoint it
picked to the other processes, which may run on machines that do not see the run folder.
A checkpoint holds the unwrapped networks and the global minibatch's random streams, so a
run can go on from it with any number of processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import Tensor

from gankit.config import Config, load_config
from gankit.errors import GankitError
from gankit.files import write_atomically
from gankit.training.distributed import SINGLE, World
from gankit.training.engine import Trainer

log = logging.getLogger(__name__)

FORMAT = "gankit-checkpoint"
VERSION = "1"
_NAME = re.compile(r"step-(\d+)\.safetensors")
_TENSOR = "$tensor"


class CheckpointError(GankitError):
    """A checkpoint that cannot be used: unreadable, not gankit's, damaged, or not this run's."""


@dataclass
class Checkpoint:
    """A checkpoint read back: its file, step, the run's config and the saved state."""

    path: Path
    step: int
    config: Config
    state: dict[str, Any]

    def restore(self, trainer: Trainer) -> None:
        """Put ``trainer`` and the global random generators back as they were at ``step``."""
        try:
            trainer.load_state_dict(self.state["trainer"])
            _set_global_rng_state(self.state["rng"], trainer.device)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise CheckpointError(
                f"checkpoint {str(self.path)!r} does not fit this run ({reason})"
            ) from None


class Checkpoints:
    """A run's ``checkpoints`` folder: ``step-NNNNNNNN.safetensors`` files, the newest ``keep``.

    Across several processes (``world``), only rank 0 touches the folder.
    """

    def __init__(self, folder: Path, keep: int = 3, world: World = SINGLE) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self.world = world

    def paths(self) -> list[Path]:
        """The checkpoint files, oldest step first (other files in the folder are ignored)."""
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if _NAME.fullmatch(p.name) and p.is_file()]
        return sorted(found, key=_step_of)

    def save(self, trainer: Trainer) -> Path:
        """Write the trainer's state as the checkpoint of its step; delete all but the newest."""
        path = self._path(trainer.step)
        if not self.world.is_main:  # every process holds the same state; rank 0 writes it
            return path
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(path, encode(trainer))
        for old in self.paths()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def newest(self) -> Checkpoint:
        """The newest readable checkpoint; each unreadable newer one is skipped, saying so.

        Every process gets the checkpoint that rank 0 picked.
        """
        if self.world.size == 1:
            return self._newest()
        # Rank 0 picks it and checks it, then every process reads the same bytes.
        blob = self.world.share(lambda: self._newest().path.read_bytes())
        checkpoint = decode(blob, "the checkpoint sent by rank 0")
        return dataclasses.replace(checkpoint, path=self._path(checkpoint.step))

    def _path(self, step: int) -> Path:
        return self.folder / f"step-{step:08d}.safetensors"

    def _newest(self) -> Checkpoint:
        paths = self.paths()
        if not paths:
            raise CheckpointError(f"no checkpoint in {str(self.folder)!r}; nothing to resume from")
        problems = []
        for path in reversed(paths):
            try:
                checkpoint = read_checkpoint(path)
            except CheckpointError as error:
                problems.append(str(error))
                continue
            for problem in problems:
                log.warning("%s; using %s instead", problem, path.name)
            return checkpoint
        raise CheckpointError(f"{problems[0]}; no readable checkpoint left to resume from")


def encode(trainer: Trainer) -> bytes:
    """The trainer's state, its config and the global random states as checkpoint bytes."""
    tensors: dict[str, Tensor] = {}
    state = {
        "config": trainer.config.to_dict(),
        "trainer": trainer.state_dict(),
        "data": trainer.data_fingerprint,
        "rng": _global_rng_state(trainer.device),
    }
    text = json.dumps(_split(state, "", tensors))
    digest = hashlib.sha256(text.encode() + _data_section(save_tensors(tensors))).hexdigest()
    metadata = {"format": FORMAT, "version": VERSION, "state": text, "sha256": digest}
    # The tensor bytes do not depend on the metadata, so the digest above covers these ones.
    return save_tensors(tensors, metadata=metadata)


def read_checkpoint(path: Path) -> Checkpoint:
    """Read and check one checkpoint file, or raise a one-line :class:`CheckpointError`."""
    name = str(path)
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"checkpoint {name!r} cannot be read ({error.strerror})") from None
    return decode(blob, name)


def decode(blob: bytes, name: str) -> Checkpoint:
    """Check and read a checkpoint's bytes; ``name``, the file they came from, names it."""
    metadata = _metadata(blob)
    if metadata is None or metadata.get("format") != FORMAT:
        raise CheckpointError(f"{name!r} is not a gankit checkpoint; refusing to load it")
    if metadata.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {name!r} has format version {metadata.get('version')!r}; "
            f"this gankit reads version {VERSION}"
        )
    text = metadata.get("state", "")
    digest = hashlib.sha256(text.encode() + _data_section(blob)).hexdigest()
    if digest != metadata.get("sha256"):
        raise CheckpointError(f"checkpoint {name!r} is damaged or truncated (checksum mismatch)")
    try:
        state = _join(json.loads(text), load_tensors(blob))
        config = load_config(base=state["config"])
        step = int(state["trainer"]["step"])
    except (
        SafetensorError,
        GankitError,
        AttributeError,
        KeyError,
        TypeError,
        ValueError,
        RecursionError,
    ) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"checkpoint {name!r} is not usable ({reason})") from None
    return Checkpoint(Path(name), step, config, state)


def _metadata(blob: bytes) -> dict[str, Any] | None:
    """The ``__metadata__`` of a safetensors file's header, or None if it has no such header."""
    if len(blob) < 8:
        return None
    size = int.from_bytes(blob[:8], "little")
    if size > len(blob) - 8:
        return None
    try:
        header = json.loads(blob[8 : 8 + size])
    except (ValueError, RecursionError):
        return None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else None


def _data_section(blob: bytes) -> bytes:
    """A safetensors file's tensor bytes: everything after the 8-byte size and the header."""
    return blob[8 + int.from_bytes(blob[:8], "little") :]


def _split(value: Any, name: str, tensors: dict[str, Tensor]) -> Any:
    """The JSON side of ``value``: each tensor moves into ``tensors``, leaving {"$tensor": name}."""
    if isinstance(value, Tensor):
        if name in tensors:
            raise ValueError(f"two tensors named {name!r} in a checkpoint")
        tensors[name] = value.detach().cpu().contiguous()
        return {_TENSOR: name}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"checkpoint state {name!r} has a non-string key")
        return {
            key: _split(item, f"{name}.{key}" if name else key, tensors)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_split(item, f"{name}.{index}", tensors) for index, item in enumerate(value)]
    return value


def _join(value: Any, tensors: dict[str, Tensor]) -> Any:
    """The inverse of :func:`_split`."""
    if isinstance(value, dict):
        if value.keys() == {_TENSOR}:
            return tensors[value[_TENSOR]]
        return {key: _join(item, tensors) for key, item in value.items()}
    if isinstance(value, list):
        return [_join(item, tensors) for item in value]
    return value


def _global_rng_state(device: torch.device) -> dict[str, Any]:
    """torch's global generator (and CUDA's), NumPy's legacy global one, and Python's."""
    numpy_state = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "key": numpy_state["state"]["key"].tolist(),
            "pos": numpy_state["state"]["pos"],
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if device.type == "cuda":
        state["torch_cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_global_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "torch_cuda" in state:
        torch.cuda.set_rng_state(state["torch_cuda"], device)
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": np.array(numpy_state["key"], np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss"]))


def _step_of(path: Path) -> int:
    return int(_NAME.fullmatch(path.name).group(1))
