"""Synthetic tables against real rows: fidelity, usefulness, validity and memorisation.

Every function takes pandas DataFrames and ``kinds``, each column's kind ("continuous",
"integer" or "categorical"); columns a frame holds beyond those in ``kinds`` are ignored.

- :func:`quality_report`: SDMetrics' own single-table QualityReport: Column Shapes (KS
  complement for numbers, total-variation complement for categories) and Column Pair Trends
  (correlation and contingency similarity), against the held-out rows.
- :func:`machine_learning_efficacy`: a gradient-boosted model trained on the synthetic rows
  and one trained on the real training rows, both scored on the held-out rows (TSTR / TRTR).
- :func:`validity`: values a real row could not hold: unseen categories, numbers outside the
  training range, fractions in integer columns; and the share of missing values per column.
- :func:`table_memorisation`: the distances to the closest training record (DCR) of
  :mod:`gankit.metrics.memorisation`, with the same definitions, in a space where every
  column weighs alike (numbers in units of the training column's standard deviation,
  categories one-hot); :func:`nearest_rows_beside` shows the closest pairs, row beside row.
- :func:`association_matrix`: |Pearson r|, Cramer's V and the correlation ratio between
  every pair of columns (what :mod:`gankit.output.table_figures` draws).

:func:`table_metrics` gathers them in one flat dict, for a run's summary.json.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gankit.errors import DataError

KINDS = ("continuous", "integer", "categorical")
NUMERIC_KINDS = ("continuous", "integer")

EXACT_TOLERANCE = 1e-6
"""Distance (in the scaled space) under which a synthetic row counts as an exact copy."""

WORST_COLUMNS = 3
"""How many of the worst-shaped columns ``quality_report`` names."""

_NATIVE_CATEGORIES = 255
"""HistGradientBoosting's most categories per feature (its ``max_bins``); a column with
more is given to the model as ordinal codes instead."""


def quality_report(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str]
) -> dict[str, float | str]:
    """SDMetrics' single-table QualityReport of ``synthetic`` against ``real``.

    ``quality`` is the report's overall score (the mean of its two properties),
    ``column_shapes`` and ``column_pair_trends`` the properties, ``worst_columns`` the
    three columns of lowest Column Shapes score ("name 0.712, ..."; a column the report could
    not score, such as one with no synthetic values, first as "nan"). Column Pair Trends
    counts only the pairs whose real correlation exceeds 0.5 or association 0.3 (the report's
    own thresholds): NaN when no pair does.
    """
    _check(kinds, real=real, synthetic=synthetic)
    with warnings.catch_warnings():
        # sdmetrics 0.32 deprecates this report for the unified one of sdmetrics.reports, whose
        # single-table scores are the same; this one takes a plain DataFrame and metadata.
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.single_table import QualityReport

    metadata = {
        "columns": {
            column: {"sdtype": "categorical" if kind == "categorical" else "numerical"}
            for column, kind in kinds.items()
        }
    }
    report = QualityReport()
    with warnings.catch_warnings():
        # Its metrics warn on constant or empty columns, which the scores already show as NaN.
        warnings.simplefilter("ignore")
        report.generate(
            canonical(real, kinds), canonical(synthetic, kinds), metadata, verbose=False
        )
    properties = report.get_properties().set_index("Property")["Score"]
    shapes = report.get_details("Column Shapes")
    worst = shapes.sort_values("Score", na_position="first").head(WORST_COLUMNS)
    return {
        "quality": float(report.get_score()),
        "column_shapes": float(properties["Column Shapes"]),
        "column_pair_trends": float(properties["Column Pair Trends"]),
        "worst_columns": ", ".join(
            f"{column} {score:.3f}"
            for column, score in zip(worst["Column"], worst["Score"], strict=True)
        ),
    }


def efficacy(
    train_frame: pd.DataFrame,
    real_test: pd.DataFrame,
    target: str,
    kinds: Mapping[str, str],
    seed: int = 0,
) -> dict[str, float]:
    """How well a model trained on ``train_frame`` predicts ``target`` on ``real_test``.

    A HistGradientBoostingClassifier for a categorical target (``accuracy``, ``macro_f1``,
    ``pr_auc``) or a HistGradientBoostingRegressor for a numeric one (``r2``); every other
    column of ``kinds`` is a feature, missing values included (the model routes them).
    Rows without a target are dropped (every metric NaN when none is left to train on; a
    test frame with no target is bad input). The classes scored are those of ``real_test``, so a
    training frame that lacks one (a synthetic set missing a rare class) still scores: the
    model never predicts that class, and its precision-recall curve is that of a constant
    score (the class's share). ``pr_auc`` is the average precision of the greater class for
    two classes, the macro mean of one-vs-rest average precisions for more.
    """
    _check(kinds, train=train_frame, test=real_test)
    if target not in kinds:
        raise DataError(f"the target {target!r} is not a column of the table")
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, f1_score, r2_score

    train_frame = canonical(train_frame, kinds).dropna(subset=[target])
    real_test = canonical(real_test, kinds).dropna(subset=[target])
    if real_test.empty:
        raise DataError(f"no test row has a value of the target {target!r}")
    features = [column for column in kinds if column != target]
    if not features:
        raise DataError(f"no column besides the target {target!r} to predict it from")
    if train_frame.empty:
        # A generator that wrote no target at all: no model, and no score, but no crash either.
        names = ("accuracy", "macro_f1", "pr_auc") if kinds[target] == "categorical" else ("r2",)
        return dict.fromkeys(names, math.nan)
    x_train, x_test, categorical = _feature_matrices(train_frame, real_test, features, kinds)
    y_train, y_test = train_frame[target].to_numpy(), real_test[target].to_numpy()
    if kinds[target] != "categorical":
        regressor = HistGradientBoostingRegressor(
            categorical_features=categorical, random_state=seed
        )
        regressor.fit(x_train, y_train.astype(float))
        return {"r2": float(r2_score(y_test.astype(float), regressor.predict(x_test)))}

    classes = np.array(sorted(set(y_test)), dtype=object)
    seen = np.array(sorted(set(y_train)), dtype=object)
    if len(seen) == 1:
        # A classifier cannot be fitted on one class; predicting it everywhere is the model.
        predicted = np.full(len(y_test), seen[0], dtype=object)
        probabilities = np.ones((len(y_test), 1))
    else:
        classifier = HistGradientBoostingClassifier(
            categorical_features=categorical, random_state=seed
        )
        classifier.fit(x_train, y_train)
        seen = classifier.classes_
        predicted = classifier.predict(x_test)
        probabilities = classifier.predict_proba(x_test)
    return {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "macro_f1": float(
            f1_score(y_test, predicted, labels=classes, average="macro", zero_division=0.0)
        ),
        "pr_auc": _pr_auc(y_test, classes, probabilities, list(seen)),
    }


def machine_learning_efficacy(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    heldout: pd.DataFrame,
    target: str,
    kinds: Mapping[str, str],
    seed: int = 0,
) -> dict[str, float]:
    """:func:`efficacy` trained on the synthetic rows (``efficacy/synthetic/<metric>``) and on
    the real training rows (``efficacy/real/<metric>``), both tested on ``heldout``: the
    synthetic numbers near the real ones mean the synthetic table can stand in for it."""
    return {
        f"efficacy/{source}/{metric}": value
        for source, frame in (("synthetic", synthetic), ("real", train))
        for metric, value in efficacy(frame, heldout, target, kinds, seed).items()
    }


def validity(
    synthetic: pd.DataFrame, train: pd.DataFrame, kinds: Mapping[str, str]
) -> dict[str, float | int]:
    """Cells of ``synthetic`` no training row could hold, and the missing share per column.

    ``unseen_categories``: categorical cells whose value no training row has;
    ``out_of_range``: numeric cells outside the training column's [min, max] (every value,
    when the training column has none); ``non_integers``: cells of integer columns with a
    fraction. Missing cells (an infinity among them) count in none of them;
    ``missing/<column>`` is their share in ``synthetic`` and ``missing_real/<column>`` in
    ``train``.
    """
    _check(kinds, synthetic=synthetic, train=train)
    synthetic, train = canonical(synthetic, kinds), canonical(train, kinds)
    counts = {"unseen_categories": 0, "out_of_range": 0, "non_integers": 0}
    shares: dict[str, float] = {}
    for column, kind in kinds.items():
        values, seen = synthetic[column], train[column].dropna()
        present = values.notna()
        if kind == "categorical":
            counts["unseen_categories"] += int((present & ~values.isin(set(seen))).sum())
        else:
            outside = present if seen.empty else (values < seen.min()) | (values > seen.max())
            counts["out_of_range"] += int(outside.sum())
            if kind == "integer":
                counts["non_integers"] += int((present & (values != np.round(values))).sum())
        shares[f"missing/{column}"] = _missing_share(values)
        shares[f"missing_real/{column}"] = _missing_share(train[column])
    return {**counts, **shares}


@dataclass(frozen=True)
class Nearest:
    """For each query row: the distance to its closest training row, and that row's position."""

    distance: np.ndarray
    index: np.ndarray


def nearest_rows(
    queries: pd.DataFrame,
    train: pd.DataFrame,
    kinds: Mapping[str, str],
    scale_by: pd.DataFrame | None = None,
) -> Nearest:
    """The closest row of ``train`` to each row of ``queries``, by Euclidean distance in the
    scaled space of :func:`scaled_rows` (fitted on ``scale_by``, by default ``train``: a few
    rows of a rare class are scaled by the whole table's); ``index`` is a position
    (``train.iloc``), not a label."""
    _check(kinds, queries=queries, train=train)
    from sklearn.neighbors import NearestNeighbors

    scale_by = train if scale_by is None else scale_by
    records = scaled_rows(train, scale_by, kinds)
    if len(records) == 0 or len(queries) == 0:
        raise DataError("no rows to measure distances between")
    finder = NearestNeighbors(n_neighbors=1).fit(records)
    distance, index = finder.kneighbors(scaled_rows(queries, scale_by, kinds))
    return Nearest(distance[:, 0], index[:, 0])


def table_memorisation(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    heldout: pd.DataFrame,
    kinds: Mapping[str, str],
    scale_by: pd.DataFrame | None = None,
) -> dict[str, float | int]:
    """The DCR summary of :func:`gankit.metrics.memorisation.memorisation`, for tables.

    Distances in the scaled space of :func:`scaled_rows`. The same keys and rules: a near
    copy is a synthetic row closer to a training row than every held-out row is
    (``near_copies`` of them, ``near_copy_share``, against ``near_copy_share_by_chance`` =
    1/(m + 1) for m held-out rows); an exact copy lies within ``EXACT_TOLERANCE`` of a
    training row (``exact_copies``, ``exact_copy_share``).
    """
    synthetic_dcr = nearest_rows(synthetic, train, kinds, scale_by).distance
    heldout_dcr = nearest_rows(heldout, train, kinds, scale_by).distance
    near = synthetic_dcr < heldout_dcr.min()  # closer to a training row than any held-out one
    exact = synthetic_dcr < EXACT_TOLERANCE
    synthetic_median = float(np.median(synthetic_dcr))
    heldout_median = float(np.median(heldout_dcr))
    return {
        "dcr_synthetic_median": synthetic_median,
        "dcr_synthetic_min": float(synthetic_dcr.min()),
        "dcr_heldout_median": heldout_median,
        "dcr_heldout_min": float(heldout_dcr.min()),
        "dcr_ratio": synthetic_median / heldout_median if heldout_median > 0 else math.nan,
        "near_copy_share": float(near.mean()),
        "near_copy_share_by_chance": 1 / (len(heldout) + 1),
        "near_copies": int(near.sum()),
        "exact_copies": int(exact.sum()),
        "exact_copy_share": float(exact.mean()),
    }


def nearest_pairs(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    kinds: Mapping[str, str],
    count: int = 10,
    scale_by: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``count`` synthetic rows closest to a training row, closest first: the positions
    ``synthetic`` (in ``synthetic``) and ``train`` (in ``train``) and their ``distance``; a
    memorising G's copies are all here, for a report to show side by side."""
    nearest = nearest_rows(synthetic, train, kinds, scale_by)
    order = np.argsort(nearest.distance, kind="stable")[:count]
    return pd.DataFrame(
        {"synthetic": order, "train": nearest.index[order], "distance": nearest.distance[order]}
    )


def nearest_rows_beside(
    synthetic: pd.DataFrame, train: pd.DataFrame, kinds: Mapping[str, str], count: int = 10
) -> pd.DataFrame:
    """:func:`nearest_pairs` as rows to read, one line a pair, closest first: ``distance``,
    ``training_row`` (the training row's index label, its row in the table as read), then each
    column of ``kinds`` as ``synthetic/<column>`` beside ``training/<column>``."""
    pairs = nearest_pairs(synthetic, train, kinds, count)
    made, real = synthetic.iloc[pairs["synthetic"]], train.iloc[pairs["train"]]
    columns = {"distance": pairs["distance"].to_numpy(), "training_row": real.index.to_numpy()}
    for column in kinds:
        columns[f"synthetic/{column}"] = made[column].to_numpy()
        columns[f"training/{column}"] = real[column].to_numpy()
    return pd.DataFrame(columns)


def table_metrics(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    heldout: pd.DataFrame,
    kinds: Mapping[str, str],
    target: str = "",
    seed: int = 0,
) -> dict[str, Any]:
    """Every table metric in one flat dict: :func:`quality_report` against ``heldout``,
    :func:`machine_learning_efficacy` (skipped when ``target`` is ""), :func:`validity`
    against ``train`` and :func:`table_memorisation`."""
    metrics: dict[str, Any] = dict(quality_report(heldout, synthetic, kinds))
    if target:
        metrics.update(machine_learning_efficacy(synthetic, train, heldout, target, kinds, seed))
    metrics.update(validity(synthetic, train, kinds))
    metrics.update(table_memorisation(synthetic, train, heldout, kinds))
    return metrics


def canonical(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """The columns of ``kinds`` in one form per kind: numbers as float64 (missing: NaN, and
    so is an infinity, which no table holds and no model or distance takes), categories as
    Python strings (missing: NaN), so that a category read as the integer 1 from a file and
    decoded as 1.0 from G is the same "1" in every comparison."""
    _check(kinds, table=frame)
    columns = {}
    for column, kind in kinds.items():
        if kind == "categorical":
            categories = frame[column].map(_category, na_action="ignore").astype(object)
            columns[column] = categories.where(categories.notna(), np.nan)  # None, pd.NA: NaN
        else:
            try:
                numbers = pd.to_numeric(frame[column]).astype(float)
            except (TypeError, ValueError) as error:
                raise DataError(
                    f"the {kind} column {column!r} holds non-numbers ({error})"
                ) from None
            columns[column] = numbers.where(np.isfinite(numbers), np.nan)
    return pd.DataFrame(columns, index=frame.index)


def scaled_rows(frame: pd.DataFrame, train: pd.DataFrame, kinds: Mapping[str, str]) -> np.ndarray:
    """``frame`` as vectors in which every column weighs alike, scaled by ``train``.

    A numeric column becomes (value - mean) / std of the training column, with a missing value
    at 0 and a 0/1 indicator of missingness beside it; a categorical column one-hot over the
    training categories, plus one slot for missing (a category training never held is all
    zeros, at distance 1 from each training category).
    """
    frame, train = canonical(frame, kinds), canonical(train, kinds)
    blocks = []
    for column, kind in kinds.items():
        values = frame[column]
        if kind == "categorical":
            categories = sorted(set(train[column].dropna()))
            blocks.append(
                np.column_stack(
                    [(values == category).to_numpy(float) for category in categories]
                    + [values.isna().to_numpy(float)]
                )
            )
        else:
            mean, std = train[column].mean(), train[column].std()
            # A constant or empty training column has no spread: leave its units as they are.
            scale = std if std > 0 else 1.0
            mean = mean if np.isfinite(mean) else 0.0
            blocks.append(
                np.column_stack(
                    [((values - mean) / scale).fillna(0).to_numpy(), values.isna().to_numpy(float)]
                )
            )
    return np.column_stack(blocks)


def association_matrix(frame: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """The strength of association of every pair of columns, each in [0, 1]: |Pearson r| for
    two numeric columns, Cramer's V for two categorical ones, the correlation ratio eta for a
    numeric and a categorical one; each pair on the rows where both are present, NaN where it
    is undefined (a constant column, fewer than two rows). The diagonal is 1."""
    _check(kinds, frame=frame)
    frame = canonical(frame, kinds)
    columns = list(kinds)
    matrix = pd.DataFrame(np.eye(len(columns)), index=columns, columns=columns)
    for i, first in enumerate(columns):
        for second in columns[i + 1 :]:
            pair = frame[[first, second]].dropna()
            value = _association(pair[first], kinds[first], pair[second], kinds[second])
            matrix.loc[first, second] = matrix.loc[second, first] = value
    return matrix


def _association(x: pd.Series, x_kind: str, y: pd.Series, y_kind: str) -> float:
    if len(x) < 2:
        return math.nan
    x_numeric, y_numeric = x_kind in NUMERIC_KINDS, y_kind in NUMERIC_KINDS
    if x_numeric and y_numeric:
        if x.std() == 0 or y.std() == 0:
            return math.nan
        return abs(float(np.corrcoef(x.to_numpy(), y.to_numpy())[0, 1]))
    if not x_numeric and not y_numeric:
        return _cramers_v(x, y)
    values, groups = (x, y) if x_numeric else (y, x)
    return _correlation_ratio(values, groups)


def _cramers_v(x: pd.Series, y: pd.Series) -> float:
    """sqrt(chi^2 / (n (min(r, c) - 1))) of the contingency table (no bias correction)."""
    table = pd.crosstab(x, y).to_numpy(float)
    if min(table.shape) < 2:
        return math.nan
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(math.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


def _correlation_ratio(values: pd.Series, groups: pd.Series) -> float:
    """eta = sqrt(between-group sum of squares / total sum of squares)."""
    total = ((values - values.mean()) ** 2).sum()
    if total == 0:
        return math.nan
    by_group = values.groupby(groups)
    between = (by_group.count() * (by_group.mean() - values.mean()) ** 2).sum()
    return float(math.sqrt(between / total))


def _feature_matrices(
    train: pd.DataFrame, test: pd.DataFrame, features: list[str], kinds: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float matrices of ``features`` for a HistGradientBoosting model, and which are
    categorical. A category becomes its position among the training frame's categories (a
    test category training never saw: missing, as the model cannot place it); a column with
    more categories than the model's bins is left as those codes, ordinal."""
    x_train, x_test, categorical = [], [], []
    for column in features:
        if kinds[column] == "categorical":
            codes = {value: code for code, value in enumerate(sorted(set(train[column].dropna())))}
            x_train.append(train[column].map(codes).to_numpy(float))
            x_test.append(test[column].map(codes).to_numpy(float))
            categorical.append(len(codes) <= _NATIVE_CATEGORIES)
        else:
            x_train.append(train[column].to_numpy(float))
            x_test.append(test[column].to_numpy(float))
            categorical.append(False)
    return np.column_stack(x_train), np.column_stack(x_test), np.array(categorical, dtype=bool)


def _pr_auc(
    y_test: np.ndarray, classes: np.ndarray, probabilities: np.ndarray, seen: list[Any]
) -> float:
    from sklearn.metrics import average_precision_score

    if len(classes) < 2:
        return math.nan  # one class in the test rows: no precision-recall trade-off to measure

    def score(category: Any) -> np.ndarray:
        # A class the model never saw gets probability 0 everywhere: a constant score.
        if category in seen:
            return probabilities[:, seen.index(category)]
        return np.zeros(len(y_test))

    positives = classes[-1:] if len(classes) == 2 else classes
    return float(np.mean([average_precision_score(y_test == c, score(c)) for c in positives]))


def _category(value: Any) -> str:
    # Integral numbers as integers: 1, 1.0 and np.int64(1) are all the category "1".
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _missing_share(values: pd.Series) -> float:
    return float(values.isna().mean()) if len(values) else math.nan


def _check(kinds: Mapping[str, str], **frames: pd.DataFrame) -> None:
    """Every kind known, and every frame holding every column of ``kinds``."""
    unknown = {column: kind for column, kind in kinds.items() if kind not in KINDS}
    if unknown:
        raise DataError(f"unknown column kinds {unknown}; each is one of {', '.join(KINDS)}")
    for name, frame in frames.items():
        missing = [column for column in kinds if column not in frame.columns]
        if missing:
            raise DataError(f"the {name} rows lack the columns {missing}")
