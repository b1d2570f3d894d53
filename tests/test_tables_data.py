"""Tables as data: reading and its one-line errors, column kinds, the fixed split, the CTGAN
transformer's exact round trip (and its state without pickle), and TableData's sampling."""

import json
import math
import multiprocessing
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from gankit.config import Config, TableConfig
from gankit.data.table_transformer import TableTransformer
from gankit.data.tables import (
    BUILT_IN_TABLES,
    TableData,
    describe_column,
    infer_columns,
    load_table,
    read_table,
    split_table,
)
from gankit.errors import DataError

FAST = {"modes": 4, "fit_rows": 300, "seed": 0, "jobs": 1}  # small mixtures, one process


def every_kind(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """One column of every kind, with and without missing values."""
    rng = np.random.default_rng(seed)
    bimodal = np.where(rng.random(n) < 0.3, rng.normal(-5, 0.5, n), rng.normal(3, 1.0, n))
    with_gaps = rng.gamma(2.0, 10.0, n)
    with_gaps[rng.random(n) < 0.15] = np.nan
    counts = pd.array(rng.integers(0, 500, n), dtype="Int64")
    counts[rng.random(n) < 0.1] = pd.NA
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    colour[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame(
        {
            "bimodal": bimodal,
            "heavy_tailed": rng.standard_cauchy(n),  # far outliers: no mode reaches them at 4 sigma
            "with_gaps": with_gaps,
            "tiny": rng.normal(0, 1e-6, n),
            "float32": rng.normal(100, 20, n).astype(np.float32),
            "wide_int": rng.integers(-10_000, 10_000, n),
            "nullable_int": counts,
            "small_int": rng.integers(1, 4, n),
            "label": rng.choice(["a", "b", "c", "d"], n, p=[0.6, 0.3, 0.08, 0.02]),
            "colour": colour,
            "flag": rng.random(n) < 0.4,
            "constant": np.full(n, 7.5),
        }
    )


EXPECTED_KINDS = {
    "bimodal": "continuous",
    "heavy_tailed": "continuous",
    "with_gaps": "continuous",
    "tiny": "continuous",
    "float32": "continuous",
    "wide_int": "integer",
    "nullable_int": "integer",
    "small_int": "categorical",
    "label": "categorical",
    "colour": "categorical",
    "flag": "categorical",
    "constant": "continuous",
}


def assert_same_table(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    """Equal column for column: numeric values to float32 round-off of the column's range,
    everything else exactly, dtypes and missing values alike."""
    expected = expected.reset_index(drop=True)
    assert list(actual.columns) == list(expected.columns)
    for name in expected.columns:
        want, got = expected[name], actual[name]
        assert got.dtype == want.dtype, name
        assert (got.isna() == want.isna()).all(), name
        if pd.api.types.is_float_dtype(want.dtype):
            span = float(want.max() - want.min()) or 1.0
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * span, err_msg=name)
        else:
            pd.testing.assert_series_equal(got, want, check_names=False, obj=name)


def fitted(frame: pd.DataFrame, **settings: object) -> TableTransformer:
    columns = infer_columns(frame, TableConfig(**settings))
    return TableTransformer().fit(frame, columns, **FAST)


@pytest.fixture(scope="module")
def kinds_and_transformer() -> tuple[pd.DataFrame, TableTransformer]:
    frame = every_kind()
    return frame, fitted(frame, max_categories=10)


def test_kinds_are_inferred_from_the_dtypes(kinds_and_transformer) -> None:
    frame, transformer = kinds_and_transformer
    assert {c.name: c.kind for c in transformer.columns} == EXPECTED_KINDS
    assert [c.name for c in transformer.columns] == list(frame.columns)
    colour = transformer.columns[list(frame.columns).index("colour")]
    assert colour.categories == ["blue", "green", "red"]
    assert colour.missing == pytest.approx(frame["colour"].isna().mean())


def test_every_kind_round_trips_exactly(kinds_and_transformer) -> None:
    frame, transformer = kinds_and_transformer
    encoded = transformer.transform(frame)
    assert encoded.dtype == np.float32
    assert encoded.shape == (len(frame), transformer.width)
    assert_same_table(frame, transformer.inverse_transform(encoded))


def test_extrapolation_lets_numbers_leave_the_training_range(kinds_and_transformer) -> None:
    # every scalar at +1: its mode's mean + 4 standard deviations, past the largest training
    # value of most columns; clipped to it by default, kept with extrapolate (integers rounded,
    # in their dtype)
    frame, transformer = kinds_and_transformer
    encoded = transformer.transform(frame)
    start = 0
    for span in transformer.spans:
        if span.kind == "scalar":
            encoded[:, start] = 1.0
        start += span.size
    clipped = transformer.inverse_transform(encoded)
    free = transformer.inverse_transform(encoded, extrapolate=True)
    beyond = []
    for column in transformer.columns:
        if column.kind == "categorical":
            pd.testing.assert_series_equal(free[column.name], clipped[column.name])
            continue
        assert clipped[column.name].max() <= column.high
        assert free[column.name].dtype == frame[column.name].dtype
        if free[column.name].max() > column.high:
            beyond.append(column.name)
    assert {"bimodal", "with_gaps", "float32", "wide_int", "nullable_int"} <= set(beyond)


def test_only_columns_with_missing_values_get_a_missing_slot(kinds_and_transformer) -> None:
    frame, transformer = kinds_and_transformer
    for column, spans in zip(transformer.columns, transformer.output_info, strict=True):
        onehot = spans[-1]
        assert onehot.kind == "onehot" and onehot.activation == "softmax"
        has_missing = bool(frame[column.name].isna().any())
        if column.kind == "categorical":
            assert onehot.size == len(column.categories) + has_missing, column.name
        else:
            assert [s.kind for s in spans] == ["scalar", "onehot"]
            assert spans[0].activation == "tanh" and spans[0].size == 1
    # G's soft outputs, anything at all: every decoded value is one the data allows.
    noise = np.random.default_rng(1).normal(0, 2, (2000, transformer.width))
    decoded = transformer.inverse_transform(noise)
    for column in transformer.columns:
        values = decoded[column.name]
        assert values.isna().any() == (column.missing > 0), column.name
        present = values.dropna()
        if column.kind == "categorical":
            assert set(present) <= set(column.categories)
        else:
            assert present.min() >= column.low and present.max() <= column.high
        if column.kind == "integer":
            assert (present == present.round()).all()


def test_values_the_subsample_missed_still_round_trip() -> None:
    # The mixture sees 100 of 2,000 values; the far outliers it missed widen their modes.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"cauchy": rng.standard_cauchy(2000), "skewed": rng.lognormal(0, 2, 2000)})
    transformer = TableTransformer().fit(
        frame, infer_columns(frame, TableConfig()), modes=10, fit_rows=100, seed=0, jobs=1
    )
    assert_same_table(frame, transformer.inverse_transform(transformer.transform(frame)))


def test_state_round_trips_through_safetensors_and_json(kinds_and_transformer) -> None:
    frame, transformer = kinds_and_transformer
    arrays, info = transformer.state()
    text = json.dumps(info)
    restored = TableTransformer.from_state(load_arrays(save_arrays(arrays)), json.loads(text))
    assert restored.spans == transformer.spans
    encoded = restored.transform(frame)
    np.testing.assert_array_equal(encoded, transformer.transform(frame))
    assert_same_table(frame, restored.inverse_transform(encoded))


def test_unseen_values_encode_as_empty_one_hots(kinds_and_transformer) -> None:
    frame, transformer = kinds_and_transformer
    new = frame.head(3).copy()
    new["label"] = ["zzz", "a", None]  # "zzz" unseen; "label" never had missing values
    start = sum(s.size for s in transformer.spans[: _span_index(transformer, "label")])
    block = transformer.transform(new)[:, start : start + 4]
    assert block.sum(axis=1).tolist() == [0, 1, 0]


def _span_index(transformer: TableTransformer, column: str) -> int:
    return next(i for i, s in enumerate(transformer.spans) if s.column == column)


def test_mixtures_fitted_in_processes_equal_those_fitted_in_one() -> None:
    frame = every_kind(n=120)[["bimodal", "with_gaps", "wide_int"]]
    columns = infer_columns(frame, TableConfig())
    one = TableTransformer().fit(frame, columns, modes=4, fit_rows=100, seed=3, jobs=1)
    two = TableTransformer().fit(frame, columns, modes=4, fit_rows=100, seed=3, jobs=2)
    for key, array in one.state()[0].items():
        np.testing.assert_allclose(two.state()[0][key], array, err_msg=key)
    assert one.fit_seconds > 0 and two.fit_seconds > 0
    # no worker left behind to hold up the exit of the process that fitted (a study's cell)
    assert multiprocessing.active_children() == []


# ------------------------------------------------------------------------------------ split


def test_split_is_fixed_stratified_disjoint_and_complete() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=503), "y": rng.choice(["a", "b", "c"], 503, p=[0.7, 0.25, 0.05])}
    )
    frame.loc[7, "y"] = "only"  # a class of one row stays in training
    train, heldout = split_table(frame, "y", 0.2)
    again, _ = split_table(frame, "y", 0.2)
    assert train.index.equals(again.index)
    assert set(train.index).isdisjoint(heldout.index)
    assert sorted([*train.index, *heldout.index]) == list(range(503))
    assert 7 in train.index
    counts = frame["y"].value_counts()
    for label, held in heldout["y"].value_counts().items():
        assert abs(held - 0.2 * counts[label]) <= 1, label
    other, _ = split_table(frame, "y", 0.2, seed=1)
    assert not other.index.equals(train.index)


def test_split_without_target_is_random_and_sized() -> None:
    frame = pd.DataFrame({"x": np.arange(100.0)})
    train, heldout = split_table(frame, "", 0.25)
    assert len(heldout) == 25 and len(train) == 75
    assert heldout.index.tolist() != list(range(75, 100))


# ---------------------------------------------------------------------------- kinds, errors


def test_overrides_change_the_inferred_kinds() -> None:
    frame = every_kind(n=60)
    settings = TableConfig(
        categorical=["wide_int"], continuous=["small_int"], ignore=["tiny"], max_categories=60
    )
    kinds = {c.name: c.kind for c in infer_columns(frame, settings)}
    assert kinds["wide_int"] == "categorical"
    assert kinds["small_int"] == "integer"
    assert "tiny" not in kinds
    assert kinds["label"] == "categorical"


def test_integers_with_many_values_are_integer_columns() -> None:
    frame = pd.DataFrame({"n": np.arange(60)})
    assert infer_columns(frame, TableConfig())[0].kind == "integer"
    assert infer_columns(frame, TableConfig(max_categories=60))[0].kind == "categorical"


def test_a_mixed_column_named_categorical_is_modelled() -> None:
    frame = pd.DataFrame({"m": [1, "a", 2.5, "a", None]})
    spec = infer_columns(frame, TableConfig(categorical=["m"]))[0]
    assert spec.categories == [1, 2.5, "a"]
    assert spec.missing == pytest.approx(0.2)


def _write(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


READ_ERRORS = [
    (lambda tmp: str(tmp / "absent.csv"), "not found"),
    (lambda tmp: _write(tmp, "t.csv", b""), "is empty"),
    (lambda tmp: _write(tmp, "t.csv", b"a,b\n"), "only a header row"),
    (lambda tmp: _write(tmp, "t.csv", b"a,b\n1,2\n"), "has 1 row"),
    (
        lambda tmp: _write(tmp, "t.csv", "a,b\nn\xe9e,2\nx,3\n".encode("latin-1")),
        "save it as UTF-8",
    ),
    (
        lambda tmp: _write(tmp, "t.tsv", b"a\tb\ta\n1\t2\t3\n4\t5\t6\n"),
        "more than one column named 'a'",
    ),
    (lambda tmp: _write(tmp, "t.parquet", b"not parquet at all"), "as parquet"),
    (lambda tmp: _write(tmp, "t.xlsx", b"a,b\n1,2\n"), "unsupported type"),
    (lambda tmp: pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"]), "more than one column"),
]


@pytest.mark.parametrize(("source", "message"), READ_ERRORS, ids=[m for _, m in READ_ERRORS])
def test_unreadable_tables_say_why_in_one_line(tmp_path, source, message) -> None:
    with pytest.raises(DataError, match=message) as error:
        read_table(source(tmp_path))
    assert "\n" not in str(error.value)


def test_tables_read_from_every_format(tmp_path) -> None:
    frame = every_kind(n=20)[["bimodal", "label", "flag", "wide_int"]]
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    frame.to_parquet(tmp_path / "t.parquet")
    for suffix in ("csv", "tsv", "parquet"):
        pd.testing.assert_frame_equal(read_table(tmp_path / f"t.{suffix}"), frame)


def test_whole_numbers_with_gaps_are_read_as_integers(tmp_path) -> None:
    # pandas reads a column of whole numbers with a gap as floats; the file says integers
    (tmp_path / "t.csv").write_text("age,score,weight,\n34,1.5,34.0,a\n,2.5,,b\n51,,12.0,c\n")
    frame = read_table(tmp_path / "t.csv")
    assert frame["age"].dtype == "Int64" and frame["age"].isna().tolist() == [False, True, False]
    assert frame["score"].dtype == frame["weight"].dtype == np.float64  # written as decimals
    table = {"n": pa.array([1, None, 3], pa.int64()), "x": pa.array([1.5, None, 2.0])}
    pq.write_table(pa.table(table), tmp_path / "t.parquet")  # without pandas' own metadata
    assert read_table(tmp_path / "t.parquet").dtypes.tolist() == ["Int64", np.float64]


COLUMN_ERRORS = [
    (
        {"categorical": ["nope"]},
        "table.categorical names 'nope', which is not a column; the columns are x, s",
    ),
    ({"continuous": ["nope"]}, "table.continuous names 'nope'"),
    ({"ignore": ["nope"]}, "table.ignore names 'nope'"),
    ({"target": "nope"}, "table.target names 'nope'"),
    (
        {"categorical": ["x"], "continuous": ["x"]},
        "'x' is in both table.categorical and table.continuous",
    ),
    ({"target": "s", "ignore": ["s"]}, "'s' is in both table.ignore and table.target"),
    ({"continuous": ["s"]}, "table.continuous names column 's', which holds text"),
    ({"ignore": ["x", "s"]}, "nothing is left to model"),
    (
        {"max_categories": 2},
        "categorical column 's' has 3 distinct values, more than table.max_categories=2",
    ),
]


@pytest.mark.parametrize(("settings", "message"), COLUMN_ERRORS)
def test_bad_column_settings_say_which_in_one_line(settings, message) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "c"]})
    with pytest.raises(DataError, match=message.replace("(", r"\(")) as error:
        infer_columns(frame, TableConfig(**settings))
    assert "\n" not in str(error.value)


DATES = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"])


@pytest.mark.parametrize(
    ("values", "named", "message"),
    [
        ([np.nan, np.nan, np.nan], [], "column 'c' has no values .* table.ignore"),
        ([np.nan, np.nan, np.nan], ["c"], "column 'c' has no values .* table.ignore"),
        ([1, "a", "b"], [], "column 'c' mixes numbers and text .* table.categorical"),
        (DATES, [], "column 'c' has dtype datetime64"),
        (DATES, ["c"], "column 'c' has dtype datetime64"),
        ([Decimal(1), Decimal(2), None], ["c"], "column 'c' holds Decimal values"),
        ([1.5, -np.inf, np.nan], [], r"column 'c' holds infinite values \(e.g. -inf\)"),
    ],
)
def test_unmodellable_columns_are_named(values, named, message) -> None:
    frame = pd.DataFrame({"c": values, "x": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=message) as error:
        infer_columns(frame, TableConfig(categorical=named))
    assert "\n" not in str(error.value)


# -------------------------------------------------------------------------------- built-ins


@pytest.mark.parametrize(
    ("name", "rows", "columns", "target", "classes"),
    [
        ("penguins", 344, 8, "species", {"Adelie", "Chinstrap", "Gentoo"}),
        ("fair", 6366, 9, "affair", {False, True}),
        ("breast_cancer", 569, 31, "target", {"malignant", "benign"}),
    ],
)
def test_built_in_tables_load_with_their_targets(name, rows, columns, target, classes) -> None:
    frame, natural = BUILT_IN_TABLES[name]()
    assert frame.shape == (rows, columns)
    assert natural == target
    assert set(frame[target].dropna()) == classes
    kinds = {c.name: c.kind for c in infer_columns(frame, TableConfig())}
    assert kinds[target] == "categorical"
    if name == "penguins":
        assert frame.isna().any().any()
    if name == "fair":
        assert "affairs" not in frame


# -------------------------------------------------------------------------------- TableData


def table_data(tmp_path, frame: pd.DataFrame, **settings: object) -> TableData:
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return load_table(Config(data=str(path), table=TableConfig(modes=3, **settings)))


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> TableData:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 2, n),
            "kind": rng.choice(["a", "b", "c"], n, p=[0.8, 0.15, 0.05]),
            "ok": rng.choice(["yes", "no", None], n, p=[0.5, 0.4, 0.1]),
        }
    )
    return table_data(tmp_path_factory.mktemp("labelled"), frame, target="kind")


def test_load_table_splits_first_and_fits_on_training_rows(labelled) -> None:
    described = labelled.describe()
    assert described.pop("transformer_seconds") >= 0  # the fit, timed for the summary
    assert described == {"train_rows": 480, "heldout_rows": 120, "columns": 3}
    assert labelled.target == "kind"
    assert labelled.shape == (labelled.transformer.width,)
    assert labelled.encoded.shape == (480, labelled.transformer.width)
    size = labelled.columns[0]
    assert (size.low, size.high) == (labelled.frame["size"].min(), labelled.frame["size"].max())
    assert labelled.conditions == [
        ("kind", "a"),
        ("kind", "b"),
        ("kind", "c"),
        ("ok", "no"),
        ("ok", "yes"),
    ]
    assert labelled.num_classes == 5
    standardizer = labelled.standardizer
    assert torch.equal(standardizer.forward(labelled.encoded), labelled.encoded)
    assert_same_table(
        labelled.frame, labelled.transformer.inverse_transform(labelled.encoded.numpy())
    )


def test_sample_labelled_rows_have_their_condition(labelled) -> None:
    rows, labels = labelled.sample_labelled(4000, torch.Generator().manual_seed(0))
    assert rows.shape == (4000, labelled.transformer.width)
    assert set(labels.tolist()) == set(range(labelled.num_classes))
    for c, (start, end, slot) in enumerate(labelled.conditioning.spans):
        mine = rows[labels == c]
        assert (mine[:, start:end].argmax(dim=1) == slot).all(), labelled.conditions[c]
        assert labelled.condition_slots[c] == start + slot


def test_sample_labels_follow_the_log_frequencies(labelled) -> None:
    labels = labelled.sample_labels(20_000, torch.Generator().manual_seed(0))
    shares = torch.bincount(labels, minlength=labelled.num_classes).double() / 20_000
    expected = []
    for column in ("kind", "ok"):
        counts = labelled.frame[column].value_counts().sort_index()  # categories' order
        logs = [math.log1p(count) for count in counts]
        expected += [0.5 * value / sum(logs) for value in logs]  # each column half the time
    assert shares.tolist() == pytest.approx(expected, abs=0.01)


def test_uniform_samples_and_devices(labelled) -> None:
    generator = torch.Generator().manual_seed(0)
    batch = labelled.sample(64, generator)
    assert batch.shape == (64, labelled.transformer.width) and batch.dtype == torch.float32
    assert labelled.to(torch.device("cpu")) is labelled


def test_fingerprint_changes_with_a_value(tmp_path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=50), "y": rng.choice(["a", "b"], 50)})
    first = table_data(tmp_path, frame)
    assert first.fingerprint() == table_data(tmp_path, frame).fingerprint()
    assert first.fingerprint().startswith("40 rows ")
    changed = frame.copy()
    changed.loc[first.frame.index[0], "y"] = (
        "b" if frame.loc[first.frame.index[0], "y"] == "a" else "a"
    )
    assert table_data(tmp_path, changed).fingerprint() != first.fingerprint()


def test_a_table_without_categories_is_unconditional(tmp_path) -> None:
    frame = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) ** 2})
    data = table_data(tmp_path, frame)
    assert data.num_classes == 0 and data.conditions == []
    rows, labels = data.sample_labelled(8, torch.Generator().manual_seed(0))
    assert rows.shape == (8, data.transformer.width) and (labels == 0).all()


def test_describe_column_keeps_the_dtype() -> None:
    spec = describe_column(pd.Series([3, 1, 2, None], dtype="Int64", name="n"), "integer")
    assert (spec.dtype, spec.low, spec.high, spec.missing) == ("Int64", 1.0, 3.0, 0.25)


# --------------------------------------------------------------------------- random tables

ROUND_TRIP_EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True, database=None)


@st.composite
def random_columns(draw, rows: int):
    """A column of one kind, with or without missing values: floats, integers (few or many
    distinct), booleans or short strings."""
    kind = draw(st.sampled_from(["float", "integer", "boolean", "string"]))
    gaps = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
    if kind == "float":
        finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False, width=32)
        values = [
            np.nan if gap else value
            for gap, value in zip(
                gaps, draw(st.lists(finite, min_size=rows, max_size=rows)), strict=True
            )
        ]
        return pd.array(values, dtype="float64")
    if kind == "integer":
        high = draw(st.sampled_from([3, 10**6]))
        values = draw(st.lists(st.integers(-high, high), min_size=rows, max_size=rows))
        return pd.array([pd.NA if gap else v for gap, v in zip(gaps, values, strict=True)], "Int64")
    if kind == "boolean":
        return np.array(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)))
    values = draw(st.lists(st.text("abc", max_size=2), min_size=rows, max_size=rows))
    return np.array([np.nan if gap else v for gap, v in zip(gaps, values, strict=True)], object)


@st.composite
def random_tables(draw) -> pd.DataFrame:
    rows = draw(st.integers(2, 40))
    count = draw(st.integers(1, 4))
    return pd.DataFrame({f"c{i}": draw(random_columns(rows)) for i in range(count)})


@ROUND_TRIP_EXAMPLES
@given(random_tables())
def test_random_tables_round_trip_exactly_or_say_why_in_one_line(frame) -> None:
    try:
        transformer = fitted(frame)
    except DataError as error:  # a column with no values, say
        assert "\n" not in str(error) and "column" in str(error)
        return
    encoded = transformer.transform(frame)
    assert encoded.shape == (len(frame), transformer.width) and np.isfinite(encoded).all()
    assert_same_table(frame, transformer.inverse_transform(encoded))
