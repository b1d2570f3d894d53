"""One cell of a rare-event study: one prevalence and one seed, from the real rows to every
classifier's held-out scores.

1. The rare class is cut to the prevalence in the training split (``rare.*`` of the training
   config, :func:`gankit.data.split.rare_rows`), and a validation part of it is set aside; the
   held-out rows keep their natural prevalence and no model ever trains on them.
2. A conditional GAN trains on the rest (for a table through its conditional vector, for
   images through the class), and draws rare rows given the rare class.
3. Each regime of :data:`REGIMES` builds a training set from the same real rows; each
   classifier of :mod:`gankit.studies.detectors` trains on it, chooses its threshold on the
   validation rows and is scored on the held-out rows.
4. The GAN's rare rows are checked for copies of the few real rare rows it saw: their distance
   to the closest of them against that of the held-out rare rows.

A cell's folder holds ``gan/`` (the GAN's run folder), ``scores.npz`` (every classifier's
held-out P(rare), for the PR curves) and ``cell.json``, written last, which marks it done.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from gankit.config import Config, data_kind
from gankit.data import ImageData, TableData, VectorData
from gankit.files import write_atomically
from gankit.metrics.memorisation import memorisation
from gankit.metrics.tables import nearest_pairs, table_memorisation
from gankit.output import run_folder
from gankit.output.image_grids import save_nearest_pairs
from gankit.run import Run
from gankit.studies.config import RareStudyConfig, StudySettings
from gankit.studies.detectors import detection_scores, fit_detector
from gankit.threads import torch_threads
from gankit.training.run_training import train

REGIMES: dict[str, str] = {
    "real": "the real training rows as they are",
    "real+class_weights": "the same rows, each class weighted by the inverse of its count",
    "real+random": "rare rows repeated at random (random oversampling)",
    "real+smote": "SMOTE's interpolated rare rows (SMOTENC with categorical columns)",
    "real+gan": "the conditional GAN's rare rows",
    "real+ctgan": "CTGAN's rare rows, by its conditional sampling (tables, with ctgan installed)",
    "gan": "the GAN's rows of every class in real+gan's counts (train on synthetic, test on real)",
}
"""The training sets of a cell, in the tables' order; each oversampler adds rare rows until
they are ``study.balance`` times the other rows."""

CELL_SETTINGS = (
    "seed",
    "eval_every",
    "progress",
    "rare.label",
    "rare.prevalence",
    "rare.seed",
    "rare.validation",
)
"""The training settings each cell sets for its GAN, whatever the study's config says."""

SCORES_FILE = "scores.npz"
NEAREST_PAIRS = 5
"""The GAN's rare rows closest to a real rare row, listed for seed 0 (tables)."""


def rare_cell_folder(directory: Path, prevalence: float, seed: int) -> Path:
    """The folder of the cell (prevalence, seed) in the study folder ``directory``."""
    return directory / f"prevalence-{prevalence:g}" / f"seed-{seed}"


@dataclass
class Rows:
    """Rows as the classifiers read them: a feature frame, and whether each row is rare."""

    features: pd.DataFrame
    is_rare: np.ndarray  # 0/1
    weights: np.ndarray | None = None
    raw: pd.DataFrame | None = None  # a table's rows as read or made, before imputation

    def __add__(self, other: Rows) -> Rows:
        return Rows(
            pd.concat([self.features, other.features], ignore_index=True),
            np.concatenate([self.is_rare, other.is_rare]),
        )


def run_rare_cell(
    settings: StudySettings, prevalence: float, seed: int, directory: Path, progress: bool = False
) -> dict[str, Any]:
    """One prevalence and seed: the GAN, every oversampler, then every classifier on every
    regime; the cell's numbers, as its ``cell.json`` holds them."""
    study = settings.study
    assert isinstance(study, RareStudyConfig)
    config = rare_cell_config(settings.training, study, prevalence, seed)
    folder = rare_cell_folder(directory, prevalence, seed)
    regimes = [r for r in REGIMES if r in study.regimes and _available(r, settings.training)]
    fits = len(regimes) * len(study.classifiers)
    bar = tqdm(
        total=2 + fits,
        desc=f"prevalence {prevalence:g}, seed {seed}",
        unit="step",
        leave=False,
        disable=not progress,
    )
    started = time.perf_counter()
    with torch_threads(config.threads), bar:
        bar.set_postfix_str("GAN")
        run = train(config, out=folder / "gan", overwrite=True)
        view = _view(run.data, config.rare.label)  # the rows it trained on, as it read them
        bar.update()
        real = view.rows("train")
        others, rare = int((real.is_rare == 0).sum()), int(real.is_rare.sum())
        added = max(0, math.ceil(study.balance * others) - rare)
        bar.set_postfix_str("oversamplers")
        gan_rare = view.generate(run, {config.rare.label: added}, seed)
        sets = _training_sets(regimes, real, added, view, run, gan_rare, study, seed)
        bar.update()
        validation, heldout = view.rows("validation"), view.rows("heldout")
        scores: dict[str, dict[str, dict[str, float]]] = {r: {} for r in regimes}
        probabilities: dict[str, np.ndarray] = {}
        for classifier in study.classifiers:
            floor = None  # the precision real reaches: where the others' recall is read
            for regime in regimes:
                bar.set_postfix_str(f"{classifier} on {regime}")
                rows = sets[regime]
                model = fit_detector(classifier, rows.features, rows.is_rare, rows.weights, seed)
                on_validation = model.predict_proba(validation.features)[:, 1]
                on_heldout = model.predict_proba(heldout.features)[:, 1]
                found = detection_scores(
                    (validation.is_rare, on_validation), (heldout.is_rare, on_heldout), floor
                )
                floor = found["precision"] if regime == "real" else floor
                scores[regime][classifier] = found
                probabilities[f"{regime}/{classifier}"] = on_heldout.astype(np.float32)
                bar.update()
        copies = view.memorisation(gan_rare, folder if seed == 0 else None)
    arrays = {"is_rare": heldout.is_rare.astype(np.int8), **probabilities}
    write_atomically(folder / SCORES_FILE, _npz(arrays))
    cell = {
        "prevalence": prevalence,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": {"other": others, "rare": rare, "added": added},
        "validation_rows": {
            "other": int((validation.is_rare == 0).sum()),
            "rare": int(validation.is_rare.sum()),
        },
        "heldout_rows": {
            "other": int((heldout.is_rare == 0).sum()),
            "rare": int(heldout.is_rare.sum()),
        },
        "scores": scores,
        "memorisation": copies,
    }
    run_folder.write_json(folder / run_folder.CELL, cell)  # last: the cell is done
    return cell


def rare_cell_config(
    training: Config, study: RareStudyConfig, prevalence: float, seed: int
) -> Config:
    """The study's training config for this cell: its rare class and prevalence, its seed, one
    evaluation at the end."""
    return dataclasses.replace(
        training,
        seed=seed,
        eval_every=training.steps,
        progress=False,
        rare=dataclasses.replace(
            training.rare,
            label=study.minority,
            prevalence=prevalence,
            seed=seed,
            validation=study.validation,
        ),
        sources={**training.sources, **dict.fromkeys(CELL_SETTINGS, "the study's cell")},
    )


def _available(regime: str, training: Config) -> bool:
    """real+ctgan needs a table and the ctgan package; every other regime runs everywhere."""
    if regime != "real+ctgan":
        return True
    return data_kind(training.data) == "tables" and importlib.util.find_spec("ctgan") is not None


def _training_sets(
    regimes: list[str],
    real: Rows,
    added: int,
    view: _TableView | _ArrayView,
    run: Run,
    gan_rare: Rows,
    study: RareStudyConfig,
    seed: int,
) -> dict[str, Rows]:
    """Each regime's training rows, every oversampler adding ``added`` rare rows to ``real``."""
    from imblearn.over_sampling import SMOTE, SMOTENC, RandomOverSampler

    target = {1: int(real.is_rare.sum()) + added}
    counts = np.bincount(real.is_rare, minlength=2)
    sets: dict[str, Rows] = {"real": real}
    for regime in regimes:
        if regime == "real+class_weights":
            # n / (2 n_c): both classes weigh the same in the loss
            weights = (len(real.is_rare) / (2 * counts))[real.is_rare]
            sets[regime] = dataclasses.replace(real, weights=weights)
        elif regime == "real+random":
            sampler = RandomOverSampler(sampling_strategy=target, random_state=seed)
            sets[regime] = _resampled(sampler, real)
        elif regime == "real+smote":
            categorical = [i for i, c in enumerate(real.features.columns) if view.is_categorical(c)]
            k = min(5, int(counts[1]) - 1)  # SMOTE interpolates between k rare neighbours
            sampler = (
                SMOTENC(categorical, sampling_strategy=target, k_neighbors=k, random_state=seed)
                if categorical
                else SMOTE(sampling_strategy=target, k_neighbors=k, random_state=seed)
            )
            sets[regime] = _resampled(sampler, real)
        elif regime == "real+gan":
            sets[regime] = real + gan_rare
        elif regime == "real+ctgan":
            sets[regime] = real + view.ctgan_rows(added, study.ctgan_epochs, seed)
        elif regime == "gan":
            # G's version of real+gan: its own rows of each class, in the same counts
            sets[regime] = view.generate(run, view.class_counts("train", added), seed + 1)
    return sets


def _resampled(sampler: Any, real: Rows) -> Rows:
    features, is_rare = sampler.fit_resample(real.features, real.is_rare)
    # imbalanced-learn returns categories as plain values: give them back their categories
    features = pd.DataFrame(features, columns=real.features.columns)
    for column in real.features.columns:
        features[column] = features[column].astype(real.features[column].dtype)
    return Rows(features, np.asarray(is_rare))


def _view(data: TableData | ImageData | VectorData, rare_label: str) -> _TableView | _ArrayView:
    """What a cell needs of its data, the same for a table, labelled images and labelled
    vectors: feature rows of each part, G's rows given classes, and the rare rows' distances."""
    if isinstance(data, TableData):
        return _TableView(data, rare_label)
    return _ArrayView(data, rare_label)


class _TableView:
    """A table: the feature frame is every column but the target, missing values imputed (the
    median, or the commonest category, of the real training rows), categories as pandas
    categories of the training rows' values."""

    def __init__(self, data: TableData, rare_label: str) -> None:
        self.data, self.rare_label = data, rare_label
        self.target = data.target
        self.kinds = {column.name: column.kind for column in data.columns}
        train = data.frame
        self.features = [c for c in self.kinds if c != self.target]
        self.fill: dict[str, Any] = {}
        self.categories: dict[str, pd.CategoricalDtype] = {}
        for column in self.features:
            if self.kinds[column] == "categorical":
                values = train[column].dropna()
                self.categories[column] = pd.CategoricalDtype(sorted(set(values), key=str))
                self.fill[column] = values.mode().iloc[0] if len(values) else None
            else:
                self.fill[column] = float(pd.to_numeric(train[column]).median())

    def frame(self, part: str) -> pd.DataFrame:
        return {
            "train": self.data.frame,
            "validation": self.data.validation,
            "heldout": self.data.heldout,
        }[part]

    def to_rows(self, frame: pd.DataFrame) -> Rows:
        features = pd.DataFrame(index=range(len(frame)))
        for column in self.features:
            values = frame[column].reset_index(drop=True)
            if column in self.categories:
                values = values.fillna(self.fill[column]).astype(self.categories[column])
            else:
                values = pd.to_numeric(values).astype(float).fillna(self.fill[column])
            features[column] = values
        is_rare = (frame[self.target].map(str, na_action="ignore") == self.rare_label).to_numpy()
        return Rows(features, is_rare.astype(np.int64), raw=frame)

    def rows(self, part: str) -> Rows:
        return self.to_rows(self.frame(part))

    def is_categorical(self, column: str) -> bool:
        return column in self.categories

    def class_counts(self, part: str, added: int) -> dict[str, int]:
        counts = self.frame(part)[self.target].map(str, na_action="ignore").value_counts()
        counts = {label: int(count) for label, count in counts.items()}
        counts[self.rare_label] += added
        return counts

    def generate(self, run: Run, counts: dict[str, int], seed: int) -> Rows:
        counts = {label: count for label, count in counts.items() if count}
        if not counts:
            return self.to_rows(self.data.frame.iloc[:0])
        condition = {self.target: list(counts), "proportions": list(counts.values())}
        return self.to_rows(run.sample(sum(counts.values()), seed, condition=condition))

    def ctgan_rows(self, count: int, epochs: int, seed: int) -> Rows:
        """CTGAN (the peer) trained on the same rows, its rare rows drawn given the rare class
        (the value set exactly, as gankit's conditional sampling sets it)."""
        from ctgan import CTGAN

        if not count:
            return self.to_rows(self.data.frame.iloc[:0])
        train = self.data.frame.copy()
        discrete = [c for c, kind in self.kinds.items() if kind == "categorical"]
        for column in discrete:  # ctgan wants discrete values it can compare: text
            train[column] = train[column].map(str, na_action="ignore")
        for column in self.kinds.keys() - set(discrete):
            # ctgan refuses missing numbers: give it those the classifiers see (the median)
            train[column] = pd.to_numeric(train[column]).fillna(self.fill.get(column, 0.0))
        torch.manual_seed(seed)
        model = CTGAN(epochs=epochs, verbose=False)
        model.set_random_state(seed)
        model.fit(train, discrete_columns=discrete)
        rows = model.sample(count, condition_column=self.target, condition_value=self.rare_label)
        rows[self.target] = self.rare_label
        for column in discrete:  # back to the training rows' own values
            lookup = {str(v): v for v in self.data.frame[column].dropna().unique()}
            rows[column] = rows[column].map(lambda v, lookup=lookup: lookup.get(v, np.nan))
        return self.to_rows(rows)

    def memorisation(self, gan_rare: Rows, folder: Path | None) -> dict[str, Any]:
        def rare_part(frame: pd.DataFrame) -> pd.DataFrame:
            rare = frame[frame[self.target].map(str, na_action="ignore") == self.rare_label]
            return rare[self.features]

        kinds = {c: self.kinds[c] for c in self.features}
        synthetic = gan_rare.raw[self.features]  # as G made them, missing values and all
        train, heldout = rare_part(self.data.frame), rare_part(self.data.heldout)
        # distances scaled by all the training rows, not by the few rare ones
        scale = self.data.frame[self.features]
        found: dict[str, Any] = dict(table_memorisation(synthetic, train, heldout, kinds, scale))
        if folder is not None:
            pairs = nearest_pairs(synthetic, train, kinds, NEAREST_PAIRS, scale)
            found["nearest"] = [
                {
                    "distance": float(pair.distance),
                    "synthetic": _plain(synthetic.iloc[int(pair.synthetic)]),
                    "real": _plain(train.iloc[int(pair.train)]),
                }
                for pair in pairs.itertuples()
            ]
        return found


class _ArrayView:
    """Labelled images or vectors: the features are what the networks see (pixels in [-1, 1],
    standardised vectors), one column each."""

    def __init__(self, data: ImageData | VectorData, rare_label: str) -> None:
        self.data, self.rare_label = data, rare_label
        self.rare_class = data.classes.index(rare_label)
        if isinstance(data, ImageData):
            self.parts = {
                "train": (data.images, data.labels),
                "validation": (data.validation_images, data.validation_labels),
                "heldout": (data.heldout_images, data.heldout_labels),
            }
        else:
            scale = data.standardizer.forward
            self.parts = {
                "train": (scale(data.points), data.labels),
                "validation": (scale(data.validation_points), data.validation_labels),
                "heldout": (scale(data.heldout_points), data.heldout_labels),
            }

    def to_rows(self, samples: torch.Tensor, labels: torch.Tensor) -> Rows:
        values = samples.flatten(1).numpy()
        features = pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])
        return Rows(features, (labels == self.rare_class).long().numpy())

    def rows(self, part: str) -> Rows:
        return self.to_rows(*self.parts[part])

    def is_categorical(self, column: str) -> bool:
        return False

    def class_counts(self, part: str, added: int) -> dict[str, int]:
        counts = torch.bincount(self.parts[part][1], minlength=len(self.data.classes))
        found = {name: int(count) for name, count in zip(self.data.classes, counts, strict=True)}
        found[self.rare_label] += added
        return found

    def generate(self, run: Run, counts: dict[str, int], seed: int) -> Rows:
        counts = {label: count for label, count in counts.items() if count}
        if not counts:
            return self.to_rows(*(part[:0] for part in self.parts["train"]))
        condition = {"class": list(counts), "proportions": list(counts.values())}
        samples, labels = run.generate(sum(counts.values()), seed, condition=condition)
        return self.to_rows(samples.clamp(-1, 1) if self.images else samples, labels)

    @property
    def images(self) -> bool:
        return isinstance(self.data, ImageData)

    def memorisation(self, gan_rare: Rows, folder: Path | None) -> dict[str, Any]:
        shape = self.parts["train"][0].shape[1:]
        synthetic = torch.from_numpy(gan_rare.features.to_numpy(np.float32)).reshape(-1, *shape)
        (train, train_labels), (held, held_labels) = self.parts["train"], self.parts["heldout"]
        train, held = train[train_labels == self.rare_class], held[held_labels == self.rare_class]
        if folder is not None and self.images and len(synthetic):
            save_nearest_pairs(synthetic, train, folder / run_folder.NEAREST, count=8)
        return dict(memorisation(synthetic, train, held))


def _plain(row: pd.Series) -> dict[str, Any]:
    """A row as JSON can hold it: numbers rounded to 4 significant digits, missing as None."""
    out: dict[str, Any] = {}
    for column, value in row.items():
        if pd.isna(value):
            out[str(column)] = None
        elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        ):
            out[str(column)] = float(f"{float(value):.4g}")
        else:
            out[str(column)] = str(value)
    return out


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
