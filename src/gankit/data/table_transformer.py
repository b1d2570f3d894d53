"""A table's rows to and from what the networks see: CTGAN's encoding (Xu et al. 2019).

This module owns the encoding of one row. Each continuous or integer column becomes a scalar
alpha = (x - mu_k) / (4 sigma_k) in (-1, 1) (a ``tanh`` span) and the one-hot of its mode k of a
variational Gaussian mixture fitted to the column (a ``softmax`` span): mode-specific
normalisation, which keeps a multimodal column from squashing into one corner of tanh's range.
Each categorical column becomes the one-hot of its category. A column that had missing values
in training gets one more slot in its one-hot span, "missing"; a column that had none cannot
produce them.

The encoding is deterministic (the mode of a value is the most probable one), so that
``inverse_transform(transform(frame))`` gives the training frame back. The state is arrays and
JSON (:meth:`TableTransformer.state`, or all JSON: :meth:`TableTransformer.to_json`), never
pickled.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from gankit.errors import DataError

ColumnKind = Literal["continuous", "integer", "categorical"]
NUMERIC_KINDS = ("continuous", "integer")

ALPHA_LIMIT = 0.99  # CTGAN clips the scalar here, inside tanh's open range
WEIGHT_THRESHOLD = 0.005  # modes lighter than this are dropped (CTGAN)
STATE_VERSION = 1
POOL_START_SECONDS = 4.0
"""About what starting worker processes costs (each imports gankit.data, hence torch): the
columns are fitted in parallel only when that saves more than this."""


@dataclass
class ColumnSpec:
    """One modelled column: its kind and what training rows say about it.

    ``dtype`` is the original pandas dtype as text, restored on decoding; ``missing`` the share
    of missing values in the training rows; ``categories`` (categorical columns) the values seen
    in training, sorted by their text, NaN excluded; ``low``/``high`` (numeric columns) the
    training range, which decoded values are clipped to.
    """

    name: str
    kind: ColumnKind
    dtype: str
    missing: float = 0.0
    categories: list[Any] = dataclasses.field(default_factory=list)
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Span:
    """A run of consecutive entries of an encoded row, all of one column: a ``scalar`` (tanh) or
    a ``onehot`` (softmax) of ``size`` slots."""

    column: str
    kind: Literal["scalar", "onehot"]
    size: int
    activation: Literal["tanh", "softmax"]


@dataclass
class _Mixture:
    """A numeric column's fitted modes, all ``n_components`` of them; ``kept`` marks those used.

    ``scales`` is sigma_k, widened where a training value lies beyond 4 * 0.99 sigma_k of its
    mode, so that every training value is encoded without clipping and decodes exactly.
    """

    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray
    scales: np.ndarray
    kept: np.ndarray  # bool

    def log_posterior(self, values: np.ndarray) -> np.ndarray:
        """log w_k + log N(x; mu_k, sigma_k) of each value (rows) and kept mode (columns), up to
        a constant: the mode a value most probably came from is its argmax."""
        means, stds = self.means[self.kept], self.stds[self.kept]
        z = (values[:, None] - means) / stds
        return np.log(self.weights[self.kept]) - np.log(stds) - 0.5 * z**2

    def assign(self, values: np.ndarray) -> np.ndarray:
        """The kept mode of each value: the most probable among those that encode it without
        clipping alpha, or the most probable of all when none does (a value far outside)."""
        score = self.log_posterior(values)
        reach = ALPHA_LIMIT * 4 * self.scales[self.kept]
        fits = np.abs(values[:, None] - self.means[self.kept]) <= reach
        restricted = np.where(fits, score, -np.inf)
        return np.where(fits.any(axis=1), restricted.argmax(axis=1), score.argmax(axis=1))


def _fit_mixture(values: np.ndarray, modes: int, seed: int) -> tuple[np.ndarray, ...]:
    """(means, stds, weights) of a Dirichlet-process Gaussian mixture of ``values`` (CTGAN's)."""
    # sklearn is slow to import; only a fit needs it.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    distinct = np.unique(values)
    if len(distinct) == 1:  # a constant: one mode, alpha always 0
        return np.array([distinct[0]]), np.ones(1), np.ones(1)
    # Fitted on standardised values: the mixture's covariance floor (reg_covar) then acts at the
    # column's own scale, so a column of tiny or huge numbers is modelled as well as one near 1.
    centre, spread = float(values.mean()), float(values.std())
    mixture = BayesianGaussianMixture(
        n_components=min(modes, len(distinct)),
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        max_iter=100,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 100 iterations is CTGAN's budget
        mixture.fit(((values - centre) / spread)[:, None])
    means = centre + spread * mixture.means_[:, 0]
    stds = spread * np.sqrt(mixture.covariances_.reshape(-1))
    return means, stds, mixture.weights_.copy()


def _fit_mixtures(
    columns: list[np.ndarray], modes: int, seed: int, jobs: int
) -> list[tuple[np.ndarray, ...]]:
    """:func:`_fit_mixture` of each column, in ``jobs`` processes, or with ``jobs`` 0 in one
    process per core once the columns fitted so far show that the rest would take longer
    one after another than with the processes, their start included."""
    if jobs > 1:
        return _fit_in_processes(columns, modes, seed, jobs)
    cores = _available_cores() if jobs == 0 else 1
    import sklearn.mixture  # noqa: F401  (here, so that its import is not timed as a fit)

    fits: list[tuple[np.ndarray, ...]] = []
    start = time.perf_counter()
    for done, values in enumerate(columns):
        left = len(columns) - done
        workers = min(cores, left)
        if done and workers > 1:
            projected = (time.perf_counter() - start) / done * left
            if projected * (1 - 1 / workers) > POOL_START_SECONDS:
                return fits + _fit_in_processes(columns[done:], modes, seed, workers)
        fits.append(_fit_mixture(values, modes, seed))
    return fits


def _fit_in_processes(
    columns: list[np.ndarray], modes: int, seed: int, jobs: int
) -> list[tuple[np.ndarray, ...]]:
    # Processes, not threads: the mixture's EM is many small numpy steps that hold the GIL.
    from joblib import Parallel, delayed
    from joblib.externals.loky import get_reusable_executor

    jobs = min(jobs, len(columns))
    fits = Parallel(n_jobs=jobs)(delayed(_fit_mixture)(values, modes, seed) for values in columns)
    # Stop the workers now: left idle, they would hold a process that started them (a study's
    # cell) at its exit for loky's idle timeout, five minutes.
    get_reusable_executor().shutdown(wait=True)
    return fits


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class TableTransformer:
    """Rows of a table <-> float32 arrays of ``width`` entries, laid out as :attr:`spans`."""

    def __init__(self) -> None:
        self.columns: list[ColumnSpec] = []
        self.spans: list[Span] = []
        self.fit_seconds = 0.0
        self._mixtures: dict[str, _Mixture] = {}

    @property
    def width(self) -> int:
        """Entries in an encoded row."""
        return sum(span.size for span in self.spans)

    @property
    def output_info(self) -> list[list[Span]]:
        """The spans of each column, in column order (CTGAN's ``output_info_list``)."""
        return [[span for span in self.spans if span.column == c.name] for c in self.columns]

    def fit(
        self,
        frame: pd.DataFrame,
        columns: list[ColumnSpec],
        modes: int,
        fit_rows: int,
        seed: int,
        jobs: int = 0,
    ) -> TableTransformer:
        """Fit every numeric column's mixture on at most ``fit_rows`` of its non-missing values
        (a subsample seeded by ``seed``). ``jobs``: 1 fits them one after another, more fits them
        in that many processes, 0 decides (:func:`_fit_mixtures`). The time it took is
        :attr:`fit_seconds`."""
        start = time.perf_counter()
        self.columns = [dataclasses.replace(c, categories=list(c.categories)) for c in columns]
        numeric = [c for c in self.columns if c.kind in NUMERIC_KINDS]
        present = {c.name: self._numeric_values(frame, c) for c in numeric}
        for column in numeric:
            if not len(present[column.name]):
                raise DataError(
                    f"column {column.name!r} has no values in the training rows; drop it with "
                    "table.ignore"
                )
        rng = np.random.default_rng(seed)
        subsamples = [
            values if len(values) <= fit_rows else rng.choice(values, fit_rows, replace=False)
            for values in present.values()
        ]
        fits = _fit_mixtures(subsamples, modes, seed, jobs)
        self._mixtures = {}
        for column, (means, stds, weights) in zip(numeric, fits, strict=True):
            kept = weights > WEIGHT_THRESHOLD
            kept[np.argmax(weights)] = True  # at least one mode, whatever the threshold
            mixture = _Mixture(means, stds, weights, stds.copy(), kept)
            self._widen(mixture, present[column.name])
            self._mixtures[column.name] = mixture
        self.spans = self._layout()
        self.fit_seconds = time.perf_counter() - start
        return self

    @staticmethod
    def _widen(mixture: _Mixture, values: np.ndarray) -> None:
        """Widen each kept mode's scale to reach the training values assigned to it."""
        modes = np.flatnonzero(mixture.kept)
        assigned = mixture.assign(values)
        for index, mode in enumerate(modes):
            members = values[assigned == index]
            if len(members):
                farthest = float(np.abs(members - mixture.means[mode]).max())
                # The margin keeps the farthest value inside the reach despite round-off.
                needed = farthest / (4 * ALPHA_LIMIT) * (1 + 1e-9)
                mixture.scales[mode] = max(mixture.scales[mode], needed)

    def _layout(self) -> list[Span]:
        spans = []
        for column in self.columns:
            has_missing = column.missing > 0
            if column.kind in NUMERIC_KINDS:
                modes = int(self._mixtures[column.name].kept.sum())
                spans.append(Span(column.name, "scalar", 1, "tanh"))
                spans.append(Span(column.name, "onehot", modes + has_missing, "softmax"))
            else:
                size = len(column.categories) + has_missing
                spans.append(Span(column.name, "onehot", size, "softmax"))
        return spans

    @staticmethod
    def _numeric_values(frame: pd.DataFrame, column: ColumnSpec) -> np.ndarray:
        values = pd.to_numeric(frame[column.name]).to_numpy(dtype=np.float64, na_value=np.nan)
        return values[~np.isnan(values)]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, width) float32: the encoded rows of ``frame`` (its other columns are ignored).

        A value training never saw (a new category, or a missing value in a column that had
        none) encodes as a one-hot span of zeros; numeric values beyond a mode's reach are
        clipped to alpha = +-0.99, as in CTGAN.
        """
        missing = [c.name for c in self.columns if c.name not in frame.columns]
        if missing:
            raise DataError(
                f"the table has no column {missing[0]!r}, which the transformer was fitted on"
            )
        parts = []
        for column in self.columns:
            if column.kind in NUMERIC_KINDS:
                parts.extend(self._encode_numeric(frame[column.name], column))
            else:
                parts.append(self._encode_categorical(frame[column.name], column))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _encode_numeric(self, series: pd.Series, column: ColumnSpec) -> list[np.ndarray]:
        mixture = self._mixtures[column.name]
        values = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
        absent = np.isnan(values)
        modes = int(mixture.kept.sum())
        onehot = np.zeros((len(values), modes + (column.missing > 0)))
        alpha = np.zeros(len(values))
        present = values[~absent]
        if len(present):
            mode = mixture.assign(present)
            means, scales = mixture.means[mixture.kept], mixture.scales[mixture.kept]
            alpha[~absent] = np.clip(
                (present - means[mode]) / (4 * scales[mode]), -ALPHA_LIMIT, ALPHA_LIMIT
            )
            onehot[np.flatnonzero(~absent), mode] = 1
        if column.missing > 0:
            onehot[absent, modes] = 1
        return [alpha[:, None], onehot]

    @staticmethod
    def _encode_categorical(series: pd.Series, column: ColumnSpec) -> np.ndarray:
        slots = pd.Index(column.categories, dtype=object).get_indexer(series.astype(object))
        onehot = np.zeros((len(series), len(column.categories) + (column.missing > 0)))
        onehot[np.flatnonzero(slots >= 0), slots[slots >= 0]] = 1
        if column.missing > 0:
            onehot[series.isna().to_numpy(), len(column.categories)] = 1
        return onehot

    def inverse_transform(self, array: np.ndarray, extrapolate: bool = False) -> pd.DataFrame:
        """The rows of ``array`` (n, width) as a table: the fitted columns in order, with their
        original dtypes. Each one-hot span is read by its argmax, so G's soft outputs decode too;
        numeric values are clipped to the training range (``extrapolate``: only to their mode's
        mean +- 4 standard deviations, and an integer dtype's range), integers rounded."""
        array = np.asarray(array, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.width:
            raise ValueError(f"expected rows of width {self.width}; got shape {array.shape}")
        out: dict[str, Any] = {}
        start = 0
        for column, spans in zip(self.columns, self.output_info, strict=True):
            size = sum(span.size for span in spans)
            block = array[:, start : start + size]
            start += size
            if column.kind in NUMERIC_KINDS:
                out[column.name] = self._decode_numeric(block, column, extrapolate)
            else:
                out[column.name] = self._decode_categorical(block, column)
        return pd.DataFrame(out, index=pd.RangeIndex(len(array)))

    def _decode_numeric(
        self, block: np.ndarray, column: ColumnSpec, extrapolate: bool
    ) -> pd.Series:
        mixture = self._mixtures[column.name]
        choice = block[:, 1:].argmax(axis=1)
        modes = int(mixture.kept.sum())
        mode = np.minimum(choice, modes - 1)  # the missing slot's rows are set to NaN below
        means, scales = mixture.means[mixture.kept], mixture.scales[mixture.kept]
        values = np.clip(block[:, 0], -1, 1) * 4 * scales[mode] + means[mode]
        if not extrapolate:
            values = np.clip(values, column.low, column.high)
        if column.kind == "integer":
            values = np.round(values)
            if extrapolate:  # within what the column's dtype holds (an unsigned one: >= 0)
                dtype = pd.api.types.pandas_dtype(column.dtype)
                limits = np.iinfo(getattr(dtype, "numpy_dtype", dtype))  # Int64 -> int64
                values = np.clip(values, limits.min, limits.max)
        values[choice == modes] = np.nan  # only a column with a missing slot reaches this
        return pd.Series(values).astype(column.dtype)

    @staticmethod
    def _decode_categorical(block: np.ndarray, column: ColumnSpec) -> pd.Series:
        # The missing slot, when there is one, is the last: it decodes as NaN.
        choices = np.array([*column.categories, np.nan], dtype=object)
        return pd.Series(choices[block.argmax(axis=1)], dtype=object).astype(column.dtype)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Everything fitted, as arrays (each numeric column's mixture, keyed
        ``column{i}.{means,stds,weights,scales,kept}``, i its position) and a JSON-able dict."""
        arrays: dict[str, np.ndarray] = {}
        for index, column in enumerate(self.columns):
            if column.kind in NUMERIC_KINDS:
                mixture = self._mixtures[column.name]
                for field in dataclasses.fields(mixture):
                    arrays[f"column{index}.{field.name}"] = getattr(mixture, field.name)
        info = {
            "version": STATE_VERSION,
            "columns": [dataclasses.asdict(c) for c in self.columns],
            "spans": [dataclasses.asdict(s) for s in self.spans],
        }
        return arrays, info

    def to_json(self) -> str:
        """:meth:`state` as one JSON text, arrays as lists (JSON keeps every float64 exactly):
        how one process hands its fit to the others."""
        arrays, info = self.state()
        return json.dumps({"arrays": {k: v.tolist() for k, v in arrays.items()}, "info": info})

    @classmethod
    def from_json(cls, text: str) -> TableTransformer:
        """The transformer that :meth:`to_json` described."""
        state = json.loads(text)
        arrays = {key: np.asarray(values) for key, values in state["arrays"].items()}
        return cls.from_state(arrays, state["info"])

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], info: dict[str, Any]) -> TableTransformer:
        """The transformer that :meth:`state` described."""
        if info.get("version") != STATE_VERSION:
            raise DataError(
                f"table transformer state of version {info.get('version')!r}; this gankit "
                f"reads version {STATE_VERSION}"
            )
        transformer = cls()
        transformer.columns = [ColumnSpec(**c) for c in info["columns"]]
        transformer.spans = [Span(**s) for s in info["spans"]]
        for index, column in enumerate(transformer.columns):
            if column.kind in NUMERIC_KINDS:
                fields = [f.name for f in dataclasses.fields(_Mixture)]
                parts = {name: np.asarray(arrays[f"column{index}.{name}"]) for name in fields}
                parts["kept"] = parts["kept"].astype(bool)
                transformer._mixtures[column.name] = _Mixture(**parts)
        return transformer
