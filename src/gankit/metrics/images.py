"""Image metrics: generated images against the held-out real images, in a feature space.

On the features of :mod:`gankit.metrics.features`: the Frechet distance (as FID, but in
that network's space), KID (mean and std over subsets), precision and recall with k = 3
(Kynkaanniemi et al. 2019) and density and coverage with k = 5 (Naeem et al. 2020). For a
conditional G, ``class_accuracy`` is how often the feature network sees the class G was
asked for, overall and per class. The distances to the closest training image (DCR) of
:mod:`gankit.metrics.memorisation`, in pixel space, tell whether G copies what it saw.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from gankit.data.images import ImageData
from gankit.metrics.features import feature_space
from gankit.metrics.frechet import frechet_distance
from gankit.metrics.kid import kernel_distance
from gankit.metrics.memorisation import memorisation
from gankit.metrics.prdc import prdc

PRECISION_RECALL_K = 3
DENSITY_COVERAGE_K = 5


def evaluate_images(
    images: Tensor, data: ImageData, labels: Tensor | None = None, seed: int = 0
) -> dict[str, Any]:
    """Metrics of ``images`` (n, C, H, W) in [-1, 1] against ``data``'s held-out images.

    ``labels``: the classes a conditional G was asked for, to score ``class_accuracy``.
    """
    space = feature_space(data)
    fake = space.embed(images.float())
    real = space.embed(data.heldout_images)
    kid, kid_std = kernel_distance(real.numpy(), fake.numpy(), seed=seed)
    close = prdc(real, fake, PRECISION_RECALL_K)
    spread = prdc(real, fake, DENSITY_COVERAGE_K)
    metrics: dict[str, Any] = {
        "frechet": frechet_distance(fake.numpy(), real.numpy()),
        "kid": kid,
        "kid_std": kid_std,
        "precision": close["precision"],
        "recall": close["recall"],
        "density": spread["density"],
        "coverage": spread["coverage"],
        "feature_accuracy": space.accuracy,
        **memorisation(images.float(), data.images, data.heldout_images),
    }
    if labels is not None and space.task == "classes":
        correct = (space.predict(images.float()) == labels).float()
        metrics["class_accuracy"] = float(correct.mean())
        for index, name in enumerate(data.classes):
            chosen = labels == index
            if chosen.any():
                metrics[f"class_accuracy/{name}"] = float(correct[chosen].mean())
    return metrics
