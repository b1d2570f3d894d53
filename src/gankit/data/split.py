"""The fixed split of a labelled image set: held-out images, and the (scarce) training subset.

Both choices are stratified by class and seeded by :data:`SPLIT_SEED`, never by the run's
seed, so every run on the same data set and split settings is scored on the same held-out
images, and a scarce run trains on a subset of what a full run trains on.
"""

from __future__ import annotations

import numpy as np

SPLIT_SEED = 20190101
"""Seeds every split; fixed so that results compare across runs and seeds."""


def holdout_split(labels: np.ndarray, holdout: float) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices): ``holdout`` of each class, at least one, held out.

    A class with a single image keeps it for training.
    """
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(max(1, round(holdout * len(members))), len(members) - 1)
        test.append(members[:count])
        train.append(members[count:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def scarce_subset(
    labels: np.ndarray, fraction: float = 1.0, per_class: int = 0, seed: int = 0
) -> np.ndarray:
    """Indices into ``labels`` of ``per_class`` images of each class, or ``fraction`` of each.

    Each class keeps at least one image. Nested: for one ``seed``, a smaller fraction picks a
    subset of what a larger one picks, because each class is drawn in one fixed random
    order; another ``seed`` draws other subsets (repeats of a scarce-data experiment).
    """
    rng = np.random.default_rng(SPLIT_SEED + 1 + seed)
    chosen = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = per_class if per_class else max(1, round(fraction * len(members)))
        chosen.append(members[: min(count, len(members))])
    return np.sort(np.concatenate(chosen))
