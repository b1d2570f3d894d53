"""A trained GAN and its run folder: save, load, sample, evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from gankit.config import Config, load_config
from gankit.data import load_data
from gankit.data.vectors import Standardizer, VectorData
from gankit.errors import GankitError
from gankit.metrics import evaluate_samples
from gankit.nets import build_discriminator, build_generator
from gankit.nets.prior import sample_prior

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
SUMMARY_FILE = "summary.json"
METRICS_FILE = "metrics.jsonl"


class Run:
    """A trained generator G (the EMA copy when enabled) and discriminator D, with their config.

    ``sample(n)`` returns vectors in the data's own units; ``evaluate()`` scores samples
    against the real data; ``save``/``load`` round-trip through a run folder.
    """

    def __init__(
        self,
        config: Config,
        standardizer: Standardizer,
        generator: nn.Module,
        discriminator: nn.Module,
        directory: Path | None = None,
        data: VectorData | None = None,
    ) -> None:
        self.config = config
        self.standardizer = standardizer
        self.generator = generator.eval()
        self.discriminator = discriminator.eval()
        self.directory = directory
        self._data = data

    @property
    def data(self) -> VectorData:
        """The training data, reloaded from the config when the run was loaded from disk."""
        if self._data is None:
            self._data = load_data(self.config)
        return self._data

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n samples G(z) in data units, as (n, d) float32; the same seed gives the same samples."""
        if n < 1:
            raise GankitError(f"the number of samples must be at least 1; got {n}")
        z = sample_prior(n, self.config.noise, torch.Generator().manual_seed(seed))
        return self.standardizer.inverse(self.generator(z)).numpy()

    def evaluate(self, samples: np.ndarray | None = None, seed: int = 0) -> dict[str, Any]:
        """Metrics of ``samples`` (default: ``eval_samples`` fresh ones) against the real data."""
        if samples is None:
            samples = self.sample(self.config.eval_samples, seed=seed)
        if samples.ndim != 2 or samples.shape[1] != self.data.dim:
            raise GankitError(
                f"samples have shape {samples.shape}; this run's data has "
                f"{self.data.dim} features per row"
            )
        return evaluate_samples(torch.from_numpy(np.asarray(samples, np.float32)), self.data, seed)

    def save(self, directory: str | Path) -> None:
        """Write the config and the weights (safetensors) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_FILE).write_text(self.config.to_yaml())
        tensors = {f"generator.{k}": v for k, v in self.generator.state_dict().items()}
        tensors |= {f"discriminator.{k}": v for k, v in self.discriminator.state_dict().items()}
        tensors |= {"data.mean": self.standardizer.mean, "data.std": self.standardizer.std}
        save_file(
            {k: v.contiguous() for k, v in tensors.items()},
            directory / WEIGHTS_FILE,
            metadata={"format": "gankit", "data": self.config.data},
        )
        self.directory = directory

    @classmethod
    def load(cls, directory: str | Path) -> Run:
        """Load a run folder written by ``gankit train``; never executes code from it."""
        directory = Path(directory)
        if not directory.is_dir():
            raise GankitError(
                f"run folder {str(directory)!r} not found; give the --out folder "
                "of a finished `gankit train`"
            )
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (directory / name).is_file():
                raise GankitError(
                    f"{str(directory / name)!r} is missing; is "
                    f"{str(directory)!r} a finished gankit run folder?"
                )
        config = load_config(directory / CONFIG_FILE)
        try:
            tensors = load_file(directory / WEIGHTS_FILE)
        except (SafetensorError, OSError) as error:
            raise GankitError(
                f"{str(directory / WEIGHTS_FILE)!r} is not a readable safetensors "
                f"file ({error}); retrain or restore it"
            ) from None
        data_dim = int(tensors["data.mean"].numel()) if "data.mean" in tensors else 0
        generator = build_generator(config, data_dim)
        discriminator = build_discriminator(config, data_dim)
        try:
            generator.load_state_dict(_part(tensors, "generator."))
            discriminator.load_state_dict(_part(tensors, "discriminator."))
            standardizer = Standardizer(tensors["data.mean"], tensors["data.std"])
        except (RuntimeError, KeyError) as error:
            reason = str(error).splitlines()[0]
            raise GankitError(
                f"{str(directory / WEIGHTS_FILE)!r} does not match its "
                f"config.yaml ({reason}); retrain or restore the folder"
            ) from None
        return cls(config, standardizer, generator, discriminator, directory)

    def summary(self) -> dict[str, Any]:
        """The run's summary.json, or {} if it has none yet."""
        path = self.directory / SUMMARY_FILE if self.directory else None
        return json.loads(path.read_text()) if path and path.is_file() else {}


def _part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load(directory: str | Path) -> Run:
    """Load a run folder: ``gankit.load("runs/ring8").sample(1000)``."""
    return Run.load(directory)
