"""Precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et al.
2020) of generated samples, from k-nearest-neighbour balls in a feature space.

Each real sample's ball has the radius to its k-th nearest other real sample; each fake's
likewise among the fakes.

- precision: the fraction of fakes inside at least one real ball (fidelity);
- recall: the fraction of reals inside at least one fake ball (diversity);
- density: how many real balls contain each fake, averaged and divided by k (about 1 when
  the two distributions are the same; unlike precision, it counts crowded regions once);
- coverage: the fraction of real balls that contain at least one fake.

Distances are computed with ``torch.cdist`` a chunk of rows at a time, so 10,000 x 10,000
samples need memory for a chunk, not for the whole matrix.
"""

from __future__ import annotations

import torch
from torch import Tensor

CHUNK = 2048


def knn_radii(x: Tensor, k: int) -> Tensor:
    """The distance from each row of x to its k-th nearest other row."""
    radii = []
    for rows in x.split(CHUNK):
        distances = torch.cdist(rows, x)
        # the smallest distance is the row to itself (0); the (k+1)-th is its k-th neighbour
        radii.append(distances.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii)


def prdc(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (n, d), with k."""
    real, fake = torch.as_tensor(real).float(), torch.as_tensor(fake).float()
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    in_real_balls = torch.zeros(len(fake), dtype=torch.long)  # per fake: real balls holding it
    real_recalled = torch.zeros(len(real), dtype=torch.bool)  # per real: inside some fake ball
    nearest_fake = torch.full((len(real),), float("inf"))  # per real: its nearest fake
    start = 0
    for rows in fake.split(CHUNK):
        distances = torch.cdist(rows, real)  # (chunk of fakes, reals)
        stop = start + len(rows)
        in_real_balls[start:stop] = (distances <= real_radii[None, :]).sum(dim=1)
        real_recalled |= (distances <= fake_radii[start:stop, None]).any(dim=0)
        nearest_fake = torch.minimum(nearest_fake, distances.min(dim=0).values)
        start = stop
    return {
        "precision": float((in_real_balls > 0).float().mean()),
        "recall": float(real_recalled.float().mean()),
        "density": float(in_real_balls.float().mean() / k),
        "coverage": float((nearest_fake <= real_radii).float().mean()),
    }
