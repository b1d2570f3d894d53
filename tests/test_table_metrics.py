"""Metrics and pictures of synthetic tables, on constructed tables where the answer is known."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_breast_cancer

from gankit.errors import DataError
from gankit.metrics.tables import (
    association_matrix,
    canonical,
    machine_learning_efficacy,
    nearest_pairs,
    quality_report,
    table_memorisation,
    table_metrics,
    validity,
)
from gankit.output.table_figures import plot_associations, plot_columns

KINDS = {
    "age": "integer",
    "income": "continuous",
    "spend": "continuous",
    "colour": "categorical",
    "size": "categorical",
    "label": "categorical",
}


def _table(n: int, seed: int) -> pd.DataFrame:
    """Mixed columns with strong associations (so Column Pair Trends has pairs to count), a few
    missing values, and a label that the other columns predict."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 10, n)
    colour = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])
    spend = 0.8 * income + np.where(colour == "red", 10.0, 0.0) + rng.normal(0, 3, n)
    size = np.where(rng.random(n) < 0.8, np.where(colour == "blue", "large", "small"), "medium")
    age = rng.integers(18, 80, n).astype(float)
    age[rng.random(n) < 0.05] = np.nan
    score = (income - 50) / 10 + (colour == "green") + rng.normal(0, 0.5, n)
    label = np.select([score < -0.3, score < 0.7], ["low", "mid"], "high")
    frame = pd.DataFrame(
        {"age": age, "income": income, "spend": spend, "colour": colour, "size": size}
    )
    frame.loc[rng.random(n) < 0.03, "colour"] = np.nan
    frame["label"] = label
    return frame


def _breast_cancer() -> tuple[pd.DataFrame, dict[str, str]]:
    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    kinds = {column: "continuous" for column in frame.columns}
    kinds["target"] = "categorical"
    return frame, kinds


# quality_report


def test_a_table_scores_high_against_itself_and_lower_when_its_columns_are_broken() -> None:
    table = _table(4000, 0)
    real, synthetic = table.iloc[:2000], table.iloc[2000:]
    itself = quality_report(real, synthetic, KINDS)
    assert itself["quality"] > 0.85
    rng = np.random.default_rng(1)
    shuffled = synthetic.apply(lambda column: column.sample(frac=1, random_state=rng).to_numpy())
    broken = quality_report(real, shuffled, KINDS)
    # each column keeps its shape; the pairs lose every association
    assert broken["column_shapes"] == pytest.approx(itself["column_shapes"])
    assert broken["quality"] < itself["quality"] - 0.05
    assert broken["column_pair_trends"] < itself["column_pair_trends"] - 0.2
    shifted = synthetic.assign(income=synthetic["income"] + 10)
    moved = quality_report(real, shifted, KINDS)
    assert moved["column_shapes"] < itself["column_shapes"] - 0.05
    assert moved["worst_columns"].startswith("income 0.")
    assert len(moved["worst_columns"].split(", ")) == 3


def test_the_quality_is_sdmetrics_own_report_on_the_same_frames() -> None:
    table = _table(1000, 2)
    real, synthetic = table.iloc[:500], table.iloc[500:].assign(spend=lambda f: f["spend"] * 1.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in 0.32, still the report
        from sdmetrics.reports.single_table import QualityReport
    metadata = {
        "columns": {
            column: {"sdtype": "categorical" if kind == "categorical" else "numerical"}
            for column, kind in KINDS.items()
        }
    }
    report = QualityReport()
    report.generate(real, synthetic, metadata, verbose=False)
    ours = quality_report(real, synthetic, KINDS)
    properties = report.get_properties().set_index("Property")["Score"]
    assert ours["quality"] == pytest.approx(report.get_score(), abs=1e-12)
    assert ours["column_shapes"] == pytest.approx(properties["Column Shapes"], abs=1e-12)
    assert ours["column_pair_trends"] == pytest.approx(properties["Column Pair Trends"], abs=1e-12)


def test_the_quality_of_a_real_table_against_its_other_half() -> None:
    frame, kinds = _breast_cancer()
    shuffled = frame.sample(frac=1, random_state=0)
    result = quality_report(shuffled.iloc[:284], shuffled.iloc[284:], kinds)
    assert result["quality"] > 0.85


def test_categories_of_any_type_and_empty_synthetic_columns_are_scored() -> None:
    real = _table(600, 3)
    synthetic = _table(600, 4)
    real["size"] = real["size"].map({"small": 1, "medium": 2, "large": 3})  # read as integers
    synthetic["size"] = synthetic["size"].map({"small": 1.0, "medium": 2.0, "large": 3.0})
    synthetic["colour"] = synthetic["colour"].astype("category")
    synthetic["income"] = np.nan  # G made no value of this column
    result = quality_report(real, synthetic, KINDS)
    assert result["worst_columns"].startswith("income nan")
    assert 0.5 < result["quality"] <= 1
    assert "size" not in result["worst_columns"]  # 1 and 1.0 are the same category


# machine_learning_efficacy


def test_efficacy_of_the_real_training_rows_as_the_synthetic_set_equals_the_real_one() -> None:
    train, heldout = _table(1500, 5), _table(800, 6)
    result = machine_learning_efficacy(train, train, heldout, "label", KINDS, seed=0)
    for metric in ("accuracy", "macro_f1", "pr_auc"):
        assert result[f"efficacy/synthetic/{metric}"] == result[f"efficacy/real/{metric}"]
    assert result["efficacy/real/accuracy"] > 0.6  # the label is learnable: well above 1/3


def test_efficacy_of_shuffled_labels_is_near_chance() -> None:
    train, heldout = _table(1500, 7), _table(1500, 8)
    synthetic = train.assign(label=train["label"].sample(frac=1, random_state=0).to_numpy())
    result = machine_learning_efficacy(synthetic, train, heldout, "label", KINDS, seed=0)
    shares = heldout["label"].value_counts(normalize=True)
    chance = float((shares**2).sum())  # guessing by the training shares, independent of y
    assert abs(result["efficacy/synthetic/accuracy"] - chance) < 0.06
    assert result["efficacy/synthetic/accuracy"] < result["efficacy/real/accuracy"] - 0.2
    # average precision of a useless score is about the class's share
    assert abs(result["efficacy/synthetic/pr_auc"] - shares.mean()) < 0.06


def test_a_synthetic_set_missing_a_class_still_scores() -> None:
    train, heldout = _table(1500, 9), _table(800, 10)
    lacking = train[train["label"] != "high"]
    result = machine_learning_efficacy(lacking, train, heldout, "label", KINDS, seed=0)
    assert 0 < result["efficacy/synthetic/accuracy"] < result["efficacy/real/accuracy"]
    assert 0 < result["efficacy/synthetic/macro_f1"] < result["efficacy/real/macro_f1"]
    assert 0 < result["efficacy/synthetic/pr_auc"] < result["efficacy/real/pr_auc"]
    one_class = train[train["label"] == "mid"]
    alone = machine_learning_efficacy(one_class, train, heldout, "label", KINDS, seed=0)
    mid_share = (heldout["label"] == "mid").mean()
    assert alone["efficacy/synthetic/accuracy"] == pytest.approx(mid_share)
    unlabelled = train.assign(label=None)
    nothing = machine_learning_efficacy(unlabelled, train, heldout, "label", KINDS, seed=0)
    assert np.isnan(nothing["efficacy/synthetic/accuracy"])
    assert nothing["efficacy/real/accuracy"] == result["efficacy/real/accuracy"]


def test_efficacy_of_a_numeric_target_is_r2() -> None:
    train, heldout = _table(1500, 11), _table(800, 12)
    result = machine_learning_efficacy(train, train, heldout, "spend", KINDS, seed=0)
    assert set(result) == {"efficacy/synthetic/r2", "efficacy/real/r2"}
    assert result["efficacy/real/r2"] > 0.8  # spend is income and colour, and a little noise


# validity


def test_validity_counts_the_cells_no_training_row_could_hold() -> None:
    train = pd.DataFrame(
        {
            "n": [1, 2, 3, 4],
            "x": [0.0, 1.0, 0.5, np.nan],
            "c": ["a", "b", "a", "b"],
        }
    )
    synthetic = pd.DataFrame(
        {
            "n": [1.0, 2.5, 5.0, np.nan],  # 2.5 has a fraction; 5 is past the training max
            "x": [-0.1, 1.2, 1.5, 0.5],  # three outside [0, 1]
            "c": ["a", "z", None, "y"],  # two categories training never held
        }
    )
    kinds = {"n": "integer", "x": "continuous", "c": "categorical"}
    result = validity(synthetic, train, kinds)
    assert result["unseen_categories"] == 2
    assert result["out_of_range"] == 4  # 5 in n, and three in x
    assert result["non_integers"] == 1
    assert result["missing/n"] == 0.25
    assert result["missing/c"] == 0.25
    assert result["missing/x"] == 0
    assert result["missing_real/x"] == 0.25
    assert result["missing_real/c"] == 0


def test_categories_read_as_integers_match_those_decoded_as_floats() -> None:
    train = pd.DataFrame({"c": [1, 2, 3]})
    synthetic = pd.DataFrame({"c": [1.0, 3.0, 4.0, None]})
    assert validity(synthetic, train, {"c": "categorical"})["unseen_categories"] == 1
    assert canonical(synthetic, {"c": "categorical"})["c"].tolist()[:3] == ["1", "3", "4"]
    missing = canonical(pd.DataFrame({"c": ["a", None, pd.NA]}), {"c": "categorical"})["c"]
    assert missing.isna().tolist() == [False, True, True]


# table_memorisation


def test_copies_of_training_rows_are_exact_copies() -> None:
    train, heldout = _table(400, 13), _table(200, 14)
    copies = train.sample(300, replace=True, random_state=0)
    result = table_memorisation(copies, train, heldout, KINDS)
    assert result["exact_copy_share"] == 1.0
    assert result["exact_copies"] == 300
    assert result["near_copy_share"] == 1.0
    assert result["dcr_ratio"] < 1e-6
    pairs = nearest_pairs(copies.iloc[:5], train, KINDS, count=5)
    assert (pairs["distance"] < 1e-6).all()
    chosen = train.iloc[pairs["train"]].reset_index(drop=True)
    copied = copies.iloc[pairs["synthetic"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(chosen, copied)


def test_fresh_rows_are_near_copies_at_about_the_chance_rate() -> None:
    shares, ratios = [], []
    for draw in range(10):
        train, heldout = _table(100, 100 + 3 * draw), _table(49, 101 + 3 * draw)
        result = table_memorisation(_table(2000, 102 + 3 * draw), train, heldout, KINDS)
        shares.append(result["near_copy_share"])
        ratios.append(result["dcr_ratio"])
        assert result["exact_copies"] == 0
    assert 0.85 < np.mean(ratios) < 1.15  # fresh rows sit as far off as held-out ones
    assert result["near_copy_share_by_chance"] == 1 / 50
    # each held-out set's minimum sets its own rate; over ten sets the mean nears 1/50
    assert 0.005 < np.mean(shares) < 0.04


# table_metrics, bad input


def test_table_metrics_gathers_everything_in_one_flat_dict() -> None:
    train, heldout, synthetic = _table(600, 15), _table(300, 16), _table(600, 17)
    with_target = table_metrics(synthetic, train, heldout, KINDS, "label")
    without = table_metrics(synthetic, train, heldout, KINDS, "")
    assert set(with_target) - set(without) == {
        f"efficacy/{source}/{metric}"
        for source in ("synthetic", "real")
        for metric in ("accuracy", "macro_f1", "pr_auc")
    }
    for key in ("quality", "worst_columns", "out_of_range", "missing/age", "dcr_ratio"):
        assert key in without
    assert all(isinstance(value, int | float | str) for value in without.values())
    synthetic.loc[:9, "income"] = np.inf  # a diverging G: missing, not a crash
    assert table_metrics(synthetic, train, heldout, KINDS, "label")["missing/income"] > 0


def test_bad_kinds_and_missing_columns_are_named() -> None:
    table = _table(50, 18)
    with pytest.raises(DataError, match="unknown column kinds"):
        validity(table, table, {**KINDS, "age": "ordinal"})
    with pytest.raises(DataError, match=r"synthetic rows lack the columns \['spend'\]"):
        validity(table.drop(columns="spend"), table, KINDS)
    with pytest.raises(DataError, match="non-numbers"):
        validity(table.assign(age="old"), table, KINDS)


# association_matrix and the figures


def test_association_matrix_knows_each_kind_of_pair() -> None:
    table = _table(2000, 19)
    matrix = association_matrix(table, KINDS)
    assert np.allclose(np.diag(matrix), 1)
    assert np.allclose(matrix, matrix.T, equal_nan=True)
    assert matrix.loc["income", "spend"] > 0.7  # Pearson
    assert matrix.loc["colour", "size"] > 0.5  # Cramer's V
    assert matrix.loc["spend", "colour"] > 0.3  # correlation ratio
    assert matrix.loc["age", "income"] < 0.1  # independent columns
    assert np.isnan(association_matrix(table.assign(age=1.0), KINDS).loc["age", "income"])


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as picture:
        picture.verify()


def test_both_figures_are_written_for_a_mixed_table_with_missing_values(tmp_path: Path) -> None:
    real, synthetic = _table(500, 20), _table(500, 21)
    rng = np.random.default_rng(22)
    synthetic.loc[rng.random(500) < 0.2, "income"] = np.nan
    synthetic.loc[:40, "colour"] = [f"shade {i}" for i in range(41)]  # past the top 12
    synthetic["age"] = np.nan  # nothing to draw in one panel
    plot_columns(real, synthetic, KINDS, tmp_path / "columns.png")
    plot_associations(real, synthetic, KINDS, tmp_path / "associations.png")
    _assert_png(tmp_path / "columns.png")
    _assert_png(tmp_path / "associations.png")


def test_the_associations_of_a_table_of_31_columns(tmp_path: Path) -> None:
    frame, kinds = _breast_cancer()
    plot_associations(frame.iloc[:300], frame.iloc[300:], kinds, tmp_path / "associations.png")
    _assert_png(tmp_path / "associations.png")
    with Image.open(tmp_path / "associations.png") as picture:
        assert picture.width > 1500  # grows with the columns, so that 31 names fit
