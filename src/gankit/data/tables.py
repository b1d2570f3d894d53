"""Tables as training data: reading them, the kind of each column, the built-in tables, the
fixed held-out split, and :class:`TableData`, the minibatches a table GAN trains on.

A table is read from a .csv, .tsv or .parquet file (or given as a DataFrame); every way it
cannot be modelled stops with a one-line :class:`~gankit.errors.DataError` naming the column
and the setting that fixes it. The held-out rows are set aside first, by a fixed seed
(stratified by the target column when it is categorical), and everything fitted afterwards
(the categories, the numeric ranges, the transformer of :mod:`gankit.data.table_transformer`)
sees only the training rows. Conditions follow CTGAN's training-by-sampling (Xu et al. 2019):
a categorical column uniformly, then one of its categories by its log-frequency.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from gankit.config import Config, RareConfig, TableConfig
from gankit.data.split import rare_rows
from gankit.data.table_conditions import TableConditions
from gankit.data.table_transformer import ColumnKind, ColumnSpec, Span, TableTransformer
from gankit.data.vectors import Standardizer
from gankit.errors import DataError

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
NULLABLE = "numpy_nullable"  # pandas' dtypes that hold a missing value beside integers
TABLE_SEED = 0
"""Seeds the held-out split and the transformer's fit: a property of the data, not of a run, so
every run on the same table trains and is scored on the same rows, encoded the same way."""


def _penguins() -> tuple[pd.DataFrame, str]:
    import palmerpenguins

    return palmerpenguins.load_penguins(), "species"


def _fair() -> tuple[pd.DataFrame, str]:
    from statsmodels.datasets import fair

    frame = fair.load_pandas().data
    # The number of affairs is a skewed rate with many ties; what a model predicts is whether.
    frame["affair"] = frame.pop("affairs") > 0
    return frame, "affair"


def _breast_cancer() -> tuple[pd.DataFrame, str]:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame
    frame["target"] = bunch.target_names[frame["target"].to_numpy()].astype(object)
    return frame, "target"


BUILT_IN_TABLES: dict[str, Callable[[], tuple[pd.DataFrame, str]]] = {
    "penguins": _penguins,  # 344 rows, 8 columns, some values missing
    "fair": _fair,  # 6,366 rows, 9 columns
    "breast_cancer": _breast_cancer,  # 569 rows, 31 columns
}
"""Each built-in table's loader: (the table, its natural target column)."""


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A table from a .csv, .tsv or .parquet file, or a copy of a DataFrame (column names as
    text), with at least 2 rows and uniquely named columns; else a one-line DataError."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.columns = [str(name) for name in frame.columns]
        label = "the table"
    else:
        path = Path(source)
        label = f"table file {str(path)!r}"
        if not path.is_file():
            raise DataError(f"{label} not found; give a built-in table name or a file path")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            frame = _read_parquet(path, label)
        elif suffix in (".csv", ".tsv"):
            frame = _read_delimited(path, label, "\t" if suffix == ".tsv" else ",")
        else:
            raise DataError(f"{label} has an unsupported type; use {', '.join(TABLE_SUFFIXES)}")
    _check_names(list(frame.columns), label)
    if frame.shape[1] == 0:
        raise DataError(f"{label} has no columns")
    if len(frame) < 2:
        rows = "only a header row" if len(frame) == 0 else "1 row"
        raise DataError(f"{label} has {rows}; a table needs at least 2 rows")
    return frame


def _read_delimited(path: Path, label: str, separator: str) -> pd.DataFrame:
    try:
        text = path.read_bytes().decode("utf-8-sig")  # -sig: a byte-order mark is not a name
    except UnicodeDecodeError as error:
        raise DataError(
            f"{label} is not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from None
    if not text.strip():
        raise DataError(f"{label} is empty; a table needs a header row and at least 2 rows")
    # From the header itself: pandas renames a repeated name "a" to "a.1" without a word.
    _check_names(next(csv.reader(io.StringIO(text), delimiter=separator)), label)

    def read(**options: Any) -> pd.DataFrame:
        return pd.read_csv(io.StringIO(text), sep=separator, **options)

    try:
        frame = read()
    except (pd.errors.ParserError, ValueError) as error:
        reason = str(error).strip().splitlines()[0]
        raise DataError(f"cannot read {label}: {reason}") from None
    return _gapped_integers(frame, lambda names: read(dtype_backend=NULLABLE)[names])


def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    read = functools.partial(pd.read_parquet, path, engine="pyarrow")
    try:
        frame = read()
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"cannot read {label} as parquet: {reason}") from None
    return _gapped_integers(frame, lambda names: read(columns=names, dtype_backend=NULLABLE))


def _gapped_integers(
    frame: pd.DataFrame, typed: Callable[[list[str]], pd.DataFrame]
) -> pd.DataFrame:
    """``frame`` with the columns that its file holds as whole numbers with gaps as integers
    (Int64), as ``typed(names)`` reads them: pandas reads them as floats, to hold NaN, and one
    missing age would make the ages a continuous column, sampled as 40.9."""
    gapped = [
        name
        for name in frame.columns
        if pd.api.types.is_float_dtype(frame[name].dtype) and frame[name].isna().any()
    ]
    if gapped:
        columns = typed(gapped)
        for name in gapped:
            if pd.api.types.is_integer_dtype(columns[name].dtype):
                frame[name] = columns[name]
    return frame


def _check_names(names: list[str], label: str) -> None:
    counts = Counter(name for name in names if name)  # empty names become "Unnamed: i"
    repeated = [name for name, count in counts.items() if count > 1]
    if repeated:
        raise DataError(
            f"{label} has more than one column named {', '.join(map(repr, repeated))}; "
            "give every column its own name"
        )


def _listing(names: list[str], most: int = 20) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def infer_columns(frame: pd.DataFrame, settings: TableConfig) -> list[ColumnSpec]:
    """The modelled columns of ``frame`` (all but ``settings.ignore``), in order, each with its
    kind and statistics.

    Kinds: strings, booleans and pandas categories are categorical; integers are categorical
    with at most ``settings.max_categories`` distinct values, else ``integer``; floats are
    continuous; ``settings.categorical`` and ``settings.continuous`` override the inference.
    """
    _check_settings(frame, settings)
    names = [name for name in frame.columns if name not in settings.ignore]
    if not names:
        raise DataError("every column is in table.ignore; nothing is left to model")
    return [describe_column(frame[name], _kind(frame[name], settings)) for name in names]


def _check_settings(frame: pd.DataFrame, settings: TableConfig) -> None:
    valid = list(frame.columns)
    named = {key: list(getattr(settings, key)) for key in ("categorical", "continuous", "ignore")}
    named["target"] = [settings.target] if settings.target else []
    for key, names in named.items():
        for name in names:
            if name not in valid:
                raise DataError(
                    f"table.{key} names {name!r}, which is not a column; the columns are "
                    + _listing(valid)
                )
    keys = list(named)
    for index, first in enumerate(keys):
        for second in keys[index + 1 :]:
            if second == "target" and first != "ignore":
                continue  # the target is modelled, whatever its kind
            both = sorted(set(named[first]) & set(named[second]))
            if both:
                raise DataError(
                    f"column {both[0]!r} is in both table.{first} and table.{second}; "
                    "name it in one"
                )


def _kind(series: pd.Series, settings: TableConfig) -> ColumnKind:
    name = series.name
    if series.isna().all():
        raise DataError(
            f"column {name!r} has no values (all missing); drop it with table.ignore=[{name}]"
        )
    if name in settings.continuous:
        return _finite(series, _continuous_kind(series))
    dtype = series.dtype
    is_object = pd.api.types.is_object_dtype(dtype)
    textual = (
        is_object
        or pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype | pd.StringDtype)
    )
    is_integer = pd.api.types.is_integer_dtype(dtype)
    if not (textual or is_integer or pd.api.types.is_float_dtype(dtype)):
        raise DataError(
            f"column {name!r} has dtype {dtype}, which a table cannot model; convert it to "
            f"numbers or text, or drop it with table.ignore=[{name}]"
        )
    if is_object:
        _check_object_values(series, mixed_ok=name in settings.categorical)
    if name in settings.categorical or textual:
        kind: ColumnKind = "categorical"
    elif is_integer:
        kind = "categorical" if series.nunique() <= settings.max_categories else "integer"
    else:
        kind = "continuous"
    distinct = series.nunique()
    if kind == "categorical" and distinct > settings.max_categories:
        raise DataError(
            f"categorical column {name!r} has {distinct} distinct values, more than "
            f"table.max_categories={settings.max_categories}; drop it with "
            f"table.ignore=[{name}] or raise table.max_categories"
        )
    return _finite(series, kind)


def _finite(series: pd.Series, kind: ColumnKind) -> ColumnKind:
    """``kind``, once a numeric column is known to hold no infinity (a mixture cannot fit one,
    and G cannot make one)."""
    if kind != "categorical":
        values = series.dropna().to_numpy(dtype=float)
        infinite = values[np.isinf(values)]
        if len(infinite):
            raise DataError(
                f"column {series.name!r} holds infinite values (e.g. {infinite[0]}); replace "
                "them with numbers or leave those cells empty (missing), or name the column in "
                "table.categorical"
            )
    return kind


def _check_object_values(series: pd.Series, mixed_ok: bool) -> None:
    """Refuse a text column that holds numbers too (unless named categorical), or values that
    are neither text, numbers nor booleans."""
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("string", "boolean"):
        return
    examples: dict[str, Any] = {}
    for value in series.dropna():
        examples.setdefault(_value_type(value), value)
    name = series.name
    if "other" in examples:
        value = examples["other"]
        raise DataError(
            f"column {name!r} holds {type(value).__name__} values (e.g. {value!r}); convert "
            f"them to numbers or text, or drop the column with table.ignore=[{name}]"
        )
    if "number" in examples and "text" in examples and not mixed_ok:
        raise DataError(
            f"column {name!r} mixes numbers and text (e.g. {examples['number']!r} and "
            f"{examples['text']!r}); clean it, or name it in table.categorical to treat each "
            "value as a category"
        )


def _value_type(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | float | np.number):
        return "number"
    return "text" if isinstance(value, str) else "other"


def _continuous_kind(series: pd.Series) -> ColumnKind:
    name, dtype = series.name, series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        held = "true/false values"
    elif pd.api.types.is_numeric_dtype(dtype):
        return "integer" if pd.api.types.is_integer_dtype(dtype) else "continuous"
    elif pd.api.types.is_object_dtype(dtype) and {_value_type(v) for v in series.dropna()} == {
        "number"
    }:
        return "continuous"  # numbers stored as Python objects
    else:
        text = [v for v in series.dropna() if not isinstance(v, int | float | np.number)]
        held = f"text (e.g. {text[0]!r})" if text else f"values of dtype {dtype}"
    raise DataError(
        f"table.continuous names column {name!r}, which holds {held}; clean it, or leave it "
        "out of table.continuous"
    )


def describe_column(series: pd.Series, kind: ColumnKind) -> ColumnSpec:
    """The :class:`ColumnSpec` of ``series`` as a column of ``kind``: its share of missing
    values, and its categories or its range."""
    spec = ColumnSpec(
        name=str(series.name),
        kind=kind,
        dtype=str(series.dtype),
        missing=float(series.isna().mean()),
    )
    if kind == "categorical":
        values = [v.item() if isinstance(v, np.generic) else v for v in series.dropna().unique()]
        # By their text, then their type: one stable order even for mixed columns.
        spec.categories = sorted(values, key=lambda v: (str(v), type(v).__name__))
    else:
        numbers = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isnan(numbers).all():
            spec.low, spec.high = float(np.nanmin(numbers)), float(np.nanmax(numbers))
    return spec


def split_table(
    frame: pd.DataFrame, target: str, holdout: float, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, held-out rows) of ``frame``, in their original order and index.

    With a ``target``, ``holdout`` of each of its classes (missing values are a class) is held
    out, at least one row, rounded per class; a class of one row stays in training. Without
    one, ``holdout`` of all rows at random. The same frame and seed give the same split.
    """
    rng = np.random.default_rng(seed)
    everything = np.arange(len(frame))
    groups = [everything]
    if target:
        keys = frame[target].astype(str).to_numpy()
        groups = [np.flatnonzero(keys == key) for key in np.unique(keys)]
        if all(len(members) < 2 for members in groups):
            groups = [everything]  # nothing to stratify: every class is a single row
    held = []
    for members in groups:
        if len(members) < 2:
            continue
        count = min(max(1, round(holdout * len(members))), len(members) - 1)
        held.append(rng.permutation(members)[:count])
    heldout = np.sort(np.concatenate(held))
    return frame.iloc[np.setdiff1d(everything, heldout)], frame.iloc[heldout]


@dataclass(eq=False)
class TableData:
    """A table's training rows, encoded, and its held-out rows; the source of minibatches.

    The conditions c = 0..C-1 are every (categorical column, category) pair in column order,
    missing values excluded (:attr:`conditions`); a GAN conditions on one of them per row.
    """

    name: str
    frame: pd.DataFrame  # training rows, as read (less ignored columns)
    heldout: pd.DataFrame  # never trained on
    columns: list[ColumnSpec]
    transformer: TableTransformer
    encoded: Tensor  # (n, width) float32: transformer.transform(frame)
    target: str = ""
    validation: pd.DataFrame | None = None  # with rare.validation: set aside, never trained on
    standardizer: Standardizer = dataclasses.field(init=False, repr=False)
    conditioning: TableConditions = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        width = self.transformer.width
        device = self.encoded.device
        # The rows already are what the networks see; the standardizer is there for the engine.
        self.standardizer = Standardizer(
            torch.zeros(width, device=device), torch.ones(width, device=device)
        )
        self._index_conditions()

    def _index_conditions(self) -> None:
        """The conditions (:class:`TableConditions`), and the training rows of each."""
        encoded = self.encoded.detach().cpu().numpy()
        device = self.encoded.device
        conditions, spans = TableConditions.layout(self.transformer)
        rows = [np.flatnonzero(encoded[:, start + slot] > 0) for start, _, slot in spans]
        sizes = [len(r) for r in rows]
        self.conditioning = TableConditions(conditions, spans, sizes, device)
        self._rows = torch.from_numpy(np.concatenate(rows or [[]]).astype(np.int64)).to(device)
        self._row_start = torch.tensor(np.cumsum([0, *sizes[:-1]]), dtype=torch.long).to(device)
        self._row_count = torch.tensor(sizes, dtype=torch.long).to(device)

    @property
    def conditions(self) -> list[tuple[str, str]]:
        """Each condition, (column, category), in the order of G's conditional one-hot."""
        return self.conditioning.conditions

    @property
    def condition_slots(self) -> Tensor:
        """Each condition's entry in an encoded row (G's cross-entropy on its condition)."""
        return self.conditioning.slots

    @property
    def shape(self) -> tuple[int]:
        """The shape of one encoded row, (width,)."""
        return (self.transformer.width,)

    @property
    def num_classes(self) -> int:
        """C, the conditions; 0 for a table without categorical columns (unconditional)."""
        return len(self.conditions)

    def impose(self, rows: Tensor, labels: Tensor) -> Tensor:
        """:meth:`TableConditions.impose`: each row's condition set exactly."""
        return self.conditioning.impose(rows, labels)

    @property
    def classes(self) -> list[str]:
        """The conditions by name, ``column=category``: what a run folder records as classes."""
        return [f"{column}={category}" for column, category in self.conditions]

    @property
    def spans(self) -> list[tuple[int, str]]:
        """G's output heads: (size, "tanh" or "softmax") of each span, in row order."""
        return [(span.size, span.activation) for span in self.transformer.spans]

    def encoded_by(self, transformer: TableTransformer) -> TableData:
        """The same rows encoded by ``transformer``: another fit of the same columns (under
        torchrun, rank 0's, so that every process trains on the same encoding)."""
        encoded = torch.from_numpy(transformer.transform(self.frame)).to(self.encoded.device)
        return dataclasses.replace(self, transformer=transformer, encoded=encoded)

    def to(self, device: torch.device) -> TableData:
        """The same data with every tensor on ``device``, so minibatches are drawn there."""
        if self.encoded.device == torch.device(device):
            return self
        return dataclasses.replace(self, encoded=self.encoded.to(device))

    def fingerprint(self) -> str:
        """The data's identity, which a resumed run checks: the training rows' count and a hash
        of every encoded row, the columns as fitted and the held-out rows."""
        digest = hashlib.sha256()
        digest.update(self.encoded.cpu().contiguous().numpy().tobytes())
        digest.update(json.dumps(self.transformer.state()[1], sort_keys=True).encode())
        digest.update(pd.util.hash_pandas_object(self.heldout).to_numpy().tobytes())
        return f"{len(self.encoded)} rows {digest.hexdigest()[:16]}"

    def describe(self) -> dict[str, float]:
        """Row and column counts of the run, and the transformer's fit time, for the summary."""
        return {
            "train_rows": len(self.frame),
            "heldout_rows": len(self.heldout),
            "columns": len(self.columns),
            "transformer_seconds": round(self.transformer.fit_seconds, 2),
        }

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n encoded training rows, drawn uniformly with replacement."""
        rows = torch.randint(
            len(self.encoded), (n,), generator=generator, device=self.encoded.device
        )
        return self.encoded[rows]

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n conditions by CTGAN's training-by-sampling (:meth:`TableConditions.sample_labels`);
        all 0 when the table has no categorical column (as for unlabelled images)."""
        return self.conditioning.sample_labels(n, generator)

    def sample_original_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n conditions as the data has them (:meth:`TableConditions.sample_original_labels`)."""
        return self.conditioning.sample_original_labels(n, generator)

    def rows_of(self, condition: int) -> Tensor:
        """The encoded training rows that have ``condition``'s category."""
        start, count = int(self._row_start[condition]), int(self._row_count[condition])
        return self.encoded[self._rows[start : start + count]]

    def sample_labelled(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """n conditions (:meth:`sample_labels`) and for each a training row that has its
        category, drawn uniformly among those rows."""
        labels = self.sample_labels(n, generator)
        if not self.num_classes:
            return self.sample(n, generator), labels
        u = torch.rand(n, generator=generator, device=self.encoded.device, dtype=torch.float64)
        count = self._row_count[labels]
        offset = torch.minimum((u * count).long(), count - 1)
        return self.encoded[self._rows[self._row_start[labels] + offset]], labels


def load_table(config: Config) -> TableData:
    """The table named by ``config.data`` (a built-in name or a file), split, its columns
    inferred and its transformer fitted on the training rows, as ``config.table`` says.

    The target is ``config.table.target``, or a built-in table's natural one (unless ignored).
    """
    settings = config.table
    if config.data in BUILT_IN_TABLES:
        frame, natural = BUILT_IN_TABLES[config.data]()
        name = config.data
        target = settings.target or ("" if natural in settings.ignore else natural)
    else:
        frame, name, target = read_table(config.data), Path(config.data).stem, settings.target
    settings = dataclasses.replace(settings, target=target)
    kinds = {column.name: column.kind for column in infer_columns(frame, settings)}
    frame = frame[list(kinds)]
    stratify = target if target and kinds[target] == "categorical" else ""
    train, heldout = split_table(frame, stratify, settings.holdout, TABLE_SEED)
    validation = train.iloc[:0]
    if config.rare.label:
        train, validation = _make_rare(train, stratify, config.rare)
    columns = [describe_column(train[name], kind) for name, kind in kinds.items()]
    transformer = TableTransformer().fit(
        train, columns, settings.modes, settings.fit_rows, TABLE_SEED
    )
    encoded = torch.from_numpy(transformer.transform(train))
    return TableData(name, train, heldout, columns, transformer, encoded, target, validation)


def _make_rare(
    train: pd.DataFrame, target: str, rare: RareConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, validation rows): ``rare.label`` of the target cut down to
    ``rare.prevalence`` (:func:`gankit.data.split.rare_rows`)."""
    if not target:
        raise DataError(
            "rare.label names a category of the target column; set table.target to a "
            "categorical column"
        )
    values = train[target].map(str, na_action="ignore")  # as conditions name categories
    if rare.label not in set(values):
        known = sorted(set(values.dropna()))
        raise DataError(
            f"rare.label={rare.label!r} is not a category of {target!r}; use one of "
            f"{_listing(known)}"
        )
    is_rare = (values == rare.label).to_numpy()
    what = f"{target}={rare.label}"
    kept, validation = rare_rows(is_rare, rare.prevalence, rare.seed, rare.validation, what)
    return train.iloc[kept], train.iloc[validation]


__all__ = [
    "BUILT_IN_TABLES",
    "TABLE_SUFFIXES",
    "ColumnSpec",
    "Span",
    "TableData",
    "TableTransformer",
    "describe_column",
    "infer_columns",
    "load_table",
    "read_table",
    "split_table",
]
