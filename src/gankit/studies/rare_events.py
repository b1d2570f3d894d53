"""``gankit augment`` on rare events: the study's cells, its numbers over seeds, and what they
show.

One cell (:mod:`gankit.studies.rare_cells`) runs for each prevalence of ``study.prevalence``
and each seed. Over the seeds, every (prevalence, classifier, regime) gets each score's 95% t
interval, and its gain over ``real`` and over ``real+smote``, paired by seed
(:mod:`gankit.metrics.intervals`). The study folder holds ``study.yaml``, ``study.json`` (the
tables, the pictures and every cell's numbers), ``table.md``, ``pr_curves.png``, ``gains.png``
and one folder per cell.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from gankit.data import ImageData, TableData, VectorData, load_data
from gankit.data.split import rare_rows
from gankit.errors import GankitError
from gankit.metrics.intervals import Interval, paired_gain, t_interval
from gankit.output import run_folder
from gankit.output.figures import plot_gains, plot_pr_curves
from gankit.studies.config import RareStudyConfig, StudySettings
from gankit.studies.rare_cells import REGIMES, SCORES_FILE, rare_cell_folder

SCORES = ("pr_auc", "roc_auc", "f1", "recall_at_precision")
"""A classifier's scores in a cell (:func:`gankit.studies.detectors.detection_scores`)."""

BASELINES = ("real", "real+smote")
"""What every regime's gains are measured against."""


def rare_study_data(
    settings: StudySettings,
) -> tuple[StudySettings, TableData | ImageData | VectorData]:
    """The study's data, and its settings with ``study.minority`` resolved (the rarest class of
    the training split when not given); one line when its data cannot make the study."""
    study, training = settings.study, settings.training
    assert isinstance(study, RareStudyConfig)
    data = load_data(training)
    if isinstance(data, TableData):
        if not data.target:
            raise GankitError(
                f"a rare-event study needs the column to predict: give table.target=COLUMN "
                f"(one of {', '.join(c.name for c in data.columns)})"
            )
        column = next(c for c in data.columns if c.name == data.target)
        if column.kind != "categorical":
            raise GankitError(
                f"table.target={data.target!r} holds numbers, not classes; a rare-event study "
                "predicts a categorical column (set table.categorical=[...] if it is one)"
            )
        counts = data.frame[data.target].map(str, na_action="ignore").value_counts()
    elif isinstance(data, ImageData | VectorData) and data.num_classes >= 2:
        labels = data.labels.numpy()
        counts = {name: int((labels == i).sum()) for i, name in enumerate(data.classes)}
    else:
        raise GankitError(
            f"a rare-event study needs classes; {training.data!r} has none: give a table with "
            "table.target=COLUMN, labelled images, or an .npz with 'x' and 'labels'"
        )
    counts = dict(counts)
    if len(counts) < 2:
        raise GankitError(
            f"the target has one class ({', '.join(counts)}); a rare-event study needs two or more"
        )
    minority = study.minority or min(counts, key=lambda label: (counts[label], label))
    if minority not in counts:
        raise GankitError(
            f"study.minority={minority!r} is not a class of the data; use one of "
            f"{', '.join(sorted(counts))}"
        )
    if not training.conditional:
        raise GankitError("gankit augment trains class-conditional GANs; drop conditional=false")
    # every prevalence checked before the first cell: too few rare rows is one line, at once
    if isinstance(data, TableData):
        is_rare = (data.frame[data.target].map(str, na_action="ignore") == minority).to_numpy()
        what = f"{data.target}={minority}"
    else:
        is_rare, what = data.labels.numpy() == data.classes.index(minority), f"class {minority!r}"
    for prevalence in study.prevalence:
        rare_rows(is_rare, prevalence, 0, study.validation, what)
    study = dataclasses.replace(study, minority=minority)
    return dataclasses.replace(settings, study=study), data


def rare_summary(
    settings: StudySettings,
    cells: list[dict[str, Any]],
    data: TableData | ImageData | VectorData,
    directory: Path,
) -> dict[str, Any]:
    """What ``study.json`` holds: title, settings, tables, pictures (those in ``directory``),
    the rows the tables are made of, and every cell's numbers."""
    study, training = settings.study, settings.training
    assert isinstance(study, RareStudyConfig)
    rows = score_rows(study, cells)
    first = cells[0]
    heldout = first["heldout_rows"]
    what = f"{data.target}={study.minority}" if isinstance(data, TableData) else study.minority
    pictures = [
        {"title": "PR curves of the rare class (seed 0)", "path": run_folder.STUDY_PR_CURVES},
        {"title": "PR-AUC gain over real only", "path": run_folder.STUDY_GAINS},
    ]
    for prevalence in study.prevalence:
        path = rare_cell_folder(Path(), prevalence, 0) / run_folder.NEAREST
        if (directory / path).is_file():  # images: a table's nearest rows are a table below
            pictures.append(
                {
                    "title": f"The GAN's rare images closest to a real one (left), prevalence "
                    f"{prevalence:g}, seed 0",
                    "path": path.as_posix(),
                }
            )
    return {
        "title": f"Rare events: {data.name}, {what} made rare",
        "description": (
            f"The rare class {what} cut to {', '.join(f'{p:g}' for p in study.prevalence)} of "
            f"the training rows, {study.seeds} seed(s) each; {study.validation:g} of them set "
            "aside to choose thresholds; every classifier scored on the same held-out rows "
            f"({heldout['rare']} rare, {heldout['other']} other, the natural prevalence). "
            "Intervals are 95% t intervals over seeds; gains are paired by seed."
        ),
        "settings": {
            "data": training.data,
            "rare class": what,
            "prevalence": study.prevalence,
            "seeds": study.seeds,
            "rare rows added": f"until they number {study.balance:g} x the other rows",
            "classifiers": study.classifiers,
            "GAN": f"conditional, {training.loss} loss, {training.steps} steps of batch "
            f"{training.batch_size}",
        },
        "tables": [
            _findings(rows, cells, study),
            _scores_table(rows),
            _memorisation_table(cells, study),
            *_nearest_tables(cells, study),
        ],
        "pictures": pictures,
        "rows": rows,
        "cells": cells,
    }


def score_rows(study: RareStudyConfig, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per prevalence, classifier and regime: each score's interval over the seeds,
    and its gains over each of :data:`BASELINES`, paired by seed."""
    rows = []
    for prevalence in study.prevalence:
        here = sorted((c for c in cells if c["prevalence"] == prevalence), key=lambda c: c["seed"])
        for classifier in study.classifiers:
            for regime in REGIMES:
                if regime not in here[0]["scores"]:
                    continue

                def values(regime: str, metric: str, classifier: str = classifier) -> list[float]:
                    return [c["scores"][regime][classifier][metric] for c in here]  # noqa: B023

                row: dict[str, Any] = {
                    "prevalence": prevalence,
                    "rare_rows": here[0]["rows"]["rare"],
                    "classifier": classifier,
                    "regime": regime,
                }
                for metric in SCORES:
                    row[metric] = t_interval(values(regime, metric)).to_dict()
                    for baseline, key in zip(BASELINES, ("gain", "gain_over_smote"), strict=True):
                        if baseline in here[0]["scores"]:
                            gain = paired_gain(values(regime, metric), values(baseline, metric))
                            row[f"{metric}_{key}"] = gain.to_dict()
                rows.append(row)
    return rows


def draw_figures(settings: StudySettings, rows: list[dict[str, Any]], directory: Path) -> None:
    """``pr_curves.png`` (seed 0, the first classifier) and ``gains.png``."""
    study = settings.study
    assert isinstance(study, RareStudyConfig)
    classifier = study.classifiers[0]
    curves: dict[float, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    rare_share = 0.0
    for prevalence in study.prevalence:
        path = rare_cell_folder(directory, prevalence, 0) / SCORES_FILE
        with np.load(path, allow_pickle=False) as scores:
            is_rare = scores["is_rare"]
            rare_share = float(is_rare.mean())
            curves[prevalence] = {
                key.split("/")[0]: (is_rare, scores[key])
                for key in scores.files
                if key.endswith(f"/{classifier}")
            }
    plot_pr_curves(curves, rare_share, directory / run_folder.STUDY_PR_CURVES)
    plot_gains(rows, study.classifiers, "pr_auc", directory / run_folder.STUDY_GAINS)


def _text(values: dict[str, Any], scale: float = 100, digits: int = 1) -> str:
    return Interval(**values).format(scale, digits)


def _findings(
    rows: list[dict[str, Any]], cells: list[dict[str, Any]], study: RareStudyConfig
) -> dict[str, Any]:
    """The study's questions, answered per prevalence from the score table's numbers."""
    answers = []
    for prevalence in study.prevalence:
        here = [r for r in rows if r["prevalence"] == prevalence]
        gan = [r for r in here if r["regime"] == "real+gan"]
        both = [
            r["classifier"]
            for r in gan
            if r["pr_auc_gain"]["low"] > 0
            and r.get("pr_auc_gain_over_smote", {}).get("low", -1) > 0
        ]
        answers.append(
            [
                f"{prevalence:g}",
                "Does real+GAN beat both real and real+SMOTE in PR-AUC (95% interval above 0)?",
                (f"yes: {', '.join(both)}" if both else "no, for no classifier")
                + "; gains over real / over SMOTE: "
                + "; ".join(
                    f"{r['classifier']} {_text(r['pr_auc_gain'])} / "
                    + (_text(r["pr_auc_gain_over_smote"]) if "pr_auc_gain_over_smote" in r else "-")
                    for r in gan
                ),
            ]
        )
        best = {}
        for classifier in study.classifiers:
            mine = [r for r in here if r["classifier"] == classifier]
            top = max(mine, key=lambda r: r["pr_auc"]["mean"])
            best[classifier] = f"{top['regime']} {_text(top['pr_auc'])}"
        answers.append(
            [
                f"{prevalence:g}",
                "Which training set gives the highest mean PR-AUC?",
                "; ".join(f"{c}: {text}" for c, text in best.items()),
            ]
        )
        weighted = [r for r in here if r["regime"] == "real+class_weights"]
        if weighted and gan:
            answers.append(
                [
                    f"{prevalence:g}",
                    "real+GAN against class weights alone (PR-AUC, mean)",
                    "; ".join(
                        f"{g['classifier']} {g['pr_auc']['mean'] * 100:.1f} vs "
                        f"{w['pr_auc']['mean'] * 100:.1f}"
                        for g, w in zip(gan, weighted, strict=True)
                    ),
                ]
            )
        mine = [c for c in cells if c["prevalence"] == prevalence]
        near = sum(c["memorisation"]["near_copies"] for c in mine)
        total = sum(c["rows"]["added"] for c in mine)
        chance = mine[0]["memorisation"]["near_copy_share_by_chance"]
        answers.append(
            [
                f"{prevalence:g}",
                "Near copies of a real rare row among the GAN's rare rows, all seeds "
                "(expected of a draw from p_data)",
                f"{near} of {total} ({chance * total:.0f})",
            ]
        )
    return {"title": "Findings", "columns": ["prevalence", "question", "answer"], "rows": answers}


def _scores_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def gain(row: dict[str, Any], key: str) -> str:
        return _text(row[key]) if key in row and row["regime"] not in BASELINES[:1] else ""

    return {
        "title": "Held-out scores of the rare class (%), and PR-AUC gains (points)",
        "columns": [
            "prevalence",
            "rare rows",
            "classifier",
            "training data",
            "PR-AUC",
            "ROC-AUC",
            "F1",
            "recall at real's precision",
            "PR-AUC gain over real",
            "PR-AUC gain over SMOTE",
        ],
        "rows": [
            [
                f"{row['prevalence']:g}",
                row["rare_rows"],
                row["classifier"],
                row["regime"],
                _text(row["pr_auc"]),
                _text(row["roc_auc"]),
                _text(row["f1"]),
                _text(row["recall_at_precision"]),
                gain(row, "pr_auc_gain"),
                "" if row["regime"] == "real+smote" else gain(row, "pr_auc_gain_over_smote"),
            ]
            for row in rows
        ],
        "note": "; ".join(f"{name}: {text}" for name, text in REGIMES.items())
        + ". F1 at the threshold chosen on the validation rows; recall at the precision that "
        "real reaches at its own threshold.",
    }


def _memorisation_table(cells: list[dict[str, Any]], study: RareStudyConfig) -> dict[str, Any]:
    rows = []
    for prevalence in study.prevalence:
        mine = [c["memorisation"] for c in cells if c["prevalence"] == prevalence]
        rows.append(
            [
                f"{prevalence:g}",
                _text(t_interval([m["dcr_synthetic_median"] for m in mine]).to_dict(), 1, 3),
                _text(t_interval([m["dcr_heldout_median"] for m in mine]).to_dict(), 1, 3),
                _text(t_interval([m["near_copy_share"] for m in mine]).to_dict(), 100, 1),
                f"{mine[0]['near_copy_share_by_chance'] * 100:.1f}",
                sum(m["exact_copies"] for m in mine),
            ]
        )
    return {
        "title": "Does the GAN hand back the real rare rows? (mean [95% interval] over seeds)",
        "columns": [
            "prevalence",
            "median distance: GAN rare row to closest real rare row",
            "held-out rare row to closest real rare row",
            "near copies (%)",
            "by chance (%)",
            "exact copies",
        ],
        "rows": rows,
        "note": "A near copy is closer to a real rare training row than any held-out rare row is.",
    }


def _nearest_tables(cells: list[dict[str, Any]], study: RareStudyConfig) -> list[dict[str, Any]]:
    """For a table, seed 0's GAN rare rows closest to a real rare row, each above that row."""
    tables = []
    for cell in cells:
        pairs = cell["memorisation"].get("nearest")
        if cell["seed"] != 0 or not pairs:
            continue
        columns = list(pairs[0]["real"])
        rows = []
        for pair in pairs:
            rows.append(
                ["GAN", f"{pair['distance']:.3f}", *(pair["synthetic"][c] for c in columns)]
            )
            rows.append(["real", "", *(pair["real"][c] for c in columns)])
        tables.append(
            {
                "title": f"Prevalence {cell['prevalence']:g}, seed 0: the GAN's rare rows closest "
                "to a real rare row",
                "columns": ["row", "distance", *columns],
                "rows": [["" if v is None else v for v in row] for row in rows],
                "terminal": False,  # too wide: in table.md and the report
            }
        )
    return tables
