"""The one way a generator is scored, whether training evaluates it, ``gankit evaluate`` does, or
:meth:`gankit.Run.evaluate`.

The rule: ``config.eval_samples`` draws z ~ p_z from a CPU generator seeded with ``seed`` (the
run's own seed unless another is asked for); a conditional G is asked for each class in turn
(0, 1, ..., K-1, 0, ...). The samples, in data units for vectors and in [-1, 1] for images, go
to :func:`gankit.metrics.evaluate_samples` with the same seed, which also draws the real vectors
they are compared with. The same G and seed therefore give the same numbers in all three places,
and every result says which samples it scored (``scored``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.data import ImageData, TableData, VectorData
from gankit.data.table_conditions import TableConditions
from gankit.metrics import evaluate_samples
from gankit.nets import MLPGenerator, TabularGenerator
from gankit.nets.prior import sample_prior

IMAGE_BATCH = 500  # G runs on this many noise vectors at a time: bounded memory for images
ROW_BATCH = 50_000  # and on this many for vectors and table rows, whose G is a small MLP


def evaluation_noise(
    config: Config,
    num_classes: int,
    seed: int,
    n: int | None = None,
    conditioning: TableConditions | None = None,
) -> tuple[Tensor, Tensor | None]:
    """The noise (on the CPU) and the classes asked for, of an evaluation with ``seed``.

    Each class in turn; for a table, conditions drawn as the data has them (a column at random,
    then its category by its frequency: CTGAN's sampling), so that the rows' columns follow the
    data's marginals rather than a uniform choice of categories.
    """
    n = config.eval_samples if n is None else n
    rng = torch.Generator().manual_seed(seed)
    z = sample_prior(n, config.noise, rng)
    if not num_classes:
        return z, None
    if conditioning is not None:  # a table's
        return z, conditioning.to("cpu").sample_original_labels(n, rng)  # rng is the CPU's
    return z, torch.arange(n) % num_classes


@torch.no_grad()
def generate(
    generator: nn.Module, z: Tensor, labels: Tensor | None = None, seed: int = 0
) -> Tensor:
    """G(z) (or G(z, y)) in eval mode on G's device, in batches; returned float32 on the CPU.

    A table's G draws each category by the Gumbel-max trick as it samples: that randomness comes
    from ``seed``, so the same z, labels and seed give the same rows, and the caller's random
    stream is left alone. G's training mode is restored afterwards.
    """
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    batch = IMAGE_BATCH if _makes_images(generator) else ROW_BATCH
    forked = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=forked):
            torch.manual_seed(seed)
            chunks = []
            for start in range(0, len(z), batch):
                noise = z[start : start + batch].to(device)
                if labels is None:
                    chunks.append(generator(noise))
                else:
                    chunks.append(generator(noise, labels[start : start + batch].to(device)))
        return torch.cat(chunks).float().cpu()
    finally:
        generator.train(was_training)


def _makes_images(generator: nn.Module) -> bool:
    return not isinstance(generator, MLPGenerator | TabularGenerator)


class Evaluator:
    """Scores a generator on the fixed evaluation noise of ``seed``; keeps the last samples."""

    def __init__(
        self, config: Config, data: VectorData | ImageData, num_classes: int, seed: int
    ) -> None:
        self.data, self.seed = data, seed
        conditioning = data.conditioning if isinstance(data, TableData) else None
        self.noise, self.labels = evaluation_noise(config, num_classes, seed, None, conditioning)
        self.last_samples: Tensor | None = None  # as scored: data units, or images in [-1, 1]

    def __call__(self, generator: nn.Module) -> dict[str, Any]:
        """The metrics of G's samples of the evaluation noise."""
        out = generate(generator, self.noise, self.labels, self.seed)
        if isinstance(self.data, ImageData):
            samples = out.clamp(-1, 1)
        else:
            samples = self.data.standardizer.inverse(out.to(self.data.standardizer.mean.device))
        scored = f"{len(out)} samples of G from noise seed {self.seed}"
        return self.score(samples.cpu(), self.labels, scored)

    def score(self, samples: Tensor, labels: Tensor | None, scored: str) -> dict[str, Any]:
        """The metrics of given ``samples`` (data units; images in [-1, 1]), described by
        ``scored``."""
        self.last_samples = samples
        metrics = evaluate_samples(samples, self.data.to("cpu"), self.seed, labels)
        return {**metrics, "scored": scored}
