"""The fixed split of a labelled image set: held-out images, and the (scarce) training subset;
and, for labelled data of any kind, a class made rare in the training split.

Every choice is stratified by class and seeded by :data:`SPLIT_SEED`, never by the run's
seed, so every run on the same data set and split settings is scored on the same held-out
images, and a scarce run trains on a subset of what a full run trains on.
"""

from __future__ import annotations

import numpy as np

from gankit.errors import DataError

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


def rare_rows(
    is_rare: np.ndarray, prevalence: float, seed: int, validation: float, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, validation indices) into ``is_rare``'s rows with the rare class (the
    rows where ``is_rare``) cut down to ``prevalence`` of the rows kept, every other row kept.

    The rare rows are drawn in one fixed random order for a ``seed``, so a lower prevalence
    keeps a subset of what a higher one keeps. Then ``validation`` of each class, at least one
    row, is set aside; a rare class of fewer than 2 rows after the cut is a DataError naming
    ``what`` (e.g. "class 'malignant'"), and so is one of fewer than 3 with a validation part.
    """
    rng = np.random.default_rng(SPLIT_SEED + 2 + seed)
    rare = rng.permutation(np.flatnonzero(is_rare))
    others = np.flatnonzero(~is_rare)
    count = min(len(rare), round(prevalence * len(others) / (1 - prevalence)))
    least = 3 if validation else 2  # 2 to learn from (SMOTE's least), 1 to validate on
    if count < least:
        lowest = (least - 0.5) / (len(others) + least - 0.5)  # where the count rounds to least
        raise DataError(
            f"a prevalence of {prevalence:g} keeps {count} of the {len(rare)} training rows of "
            f"{what} beside {len(others)} others, and the rare class needs at least {least}; "
            f"raise the prevalence to {lowest:.4f} or more"
        )
    kept = np.concatenate([others, rare[:count]])
    if not validation:
        return np.sort(kept), np.array([], dtype=np.int64)
    held = []
    for members in (others, rare[:count]):
        members = rng.permutation(members)
        held.append(members[: min(max(1, round(validation * len(members))), len(members) - 1)])
    held_out = np.concatenate(held)
    return np.setdiff1d(kept, held_out), np.sort(held_out)
