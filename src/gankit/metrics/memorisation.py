"""Does G copy its training data? Distances to the closest training record (DCR).

For each synthetic sample s, DCR(s) = min_t ||s - t|| over the training records t, in the
space the data lives in (pixels in [-1, 1] for images, flattened). The same distance for
held-out real records, which G never saw, is the yardstick: a fresh draw from p_data lands
that far from the training set. A synthetic sample closer to a training record than every
held-out record is (DCR(s) < min_h DCR(h)) is flagged as a near copy; one within
``EXACT_TOLERANCE`` per pixel (root mean square) as an exact copy.

The near-copy share has a yardstick of its own: a generator that draws exactly from p_data,
never looking at the training set, makes s exchangeable with the m held-out records, so
P(DCR(s) < min_h DCR(h)) = 1 / (m + 1) (``near_copy_share_by_chance``). A share well above
it means copying; a few flagged samples out of thousands, at or under it, do not. A
generator that memorises also shows DCRs well below the held-out ones: ``dcr_ratio``, the
ratio of the medians, falls far under 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

EXACT_TOLERANCE = 1e-3
"""Root-mean-square difference per value under which a sample counts as an exact copy."""

_CHUNK = 1024


@dataclass(frozen=True)
class Nearest:
    """For each query row: the distance to its closest record, and that record's index."""

    distance: Tensor
    index: Tensor


def nearest_records(queries: Tensor, records: Tensor) -> Nearest:
    """The closest row of ``records`` to each row of ``queries`` (any shape, flattened), by
    Euclidean distance; computed in chunks so memory stays bounded."""
    queries = queries.reshape(len(queries), -1).double()
    records = records.reshape(len(records), -1).double()
    if len(records) == 0 or queries.shape[1] != records.shape[1]:
        raise ValueError(
            f"cannot compare rows of {tuple(queries.shape)} with {tuple(records.shape)}"
        )
    distances, indices = [], []
    for start in range(0, len(queries), _CHUNK):
        found = torch.cdist(queries[start : start + _CHUNK], records).min(dim=1)
        distances.append(found.values)
        indices.append(found.indices)
    return Nearest(torch.cat(distances).float(), torch.cat(indices))


def memorisation(synthetic: Tensor, train: Tensor, heldout: Tensor) -> dict[str, float | int]:
    """The DCR summary of ``synthetic`` against the ``train`` records G learnt from, with the
    ``heldout`` records as the yardstick (flat, for a run's summary.json)."""
    synthetic_dcr = nearest_records(synthetic, train).distance
    heldout_dcr = nearest_records(heldout, train).distance
    near = synthetic_dcr < heldout_dcr.min()  # closer to a training record than any held-out one
    exact = synthetic_dcr <= EXACT_TOLERANCE * math.sqrt(synthetic[0].numel())
    synthetic_median = float(synthetic_dcr.median())
    heldout_median = float(heldout_dcr.median())
    return {
        "dcr_synthetic_median": synthetic_median,
        "dcr_synthetic_min": float(synthetic_dcr.min()),
        "dcr_heldout_median": heldout_median,
        "dcr_heldout_min": float(heldout_dcr.min()),
        "dcr_ratio": synthetic_median / heldout_median if heldout_median > 0 else math.nan,
        "near_copy_share": float(near.float().mean()),
        "near_copy_share_by_chance": 1 / (len(heldout) + 1),
        "near_copies": int(near.sum()),
        "exact_copies": int(exact.sum()),
    }
