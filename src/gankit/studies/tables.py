"""A study's numbers over seeds: every regime's accuracy and macro-F1 with a 95% t interval, and
its gain over real only, paired by seed (:mod:`gankit.metrics.intervals`); the generators' scores
alike; the tables of ``study.json`` built from them, and those tables as Markdown.
"""

from __future__ import annotations

from typing import Any

from gankit.metrics.intervals import Interval, paired_gain, t_interval
from gankit.studies.cells import GENERATOR_METRICS, REGIMES
from gankit.studies.config import StudyConfig

SCORES = ("accuracy", "macro_f1")
"""The scores of a classifier, as :func:`gankit.downstream.train_and_score` gives them."""


def accuracy_rows(study: StudyConfig, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row for each fraction, classifier and regime: every score's interval over the
    seeds, and the interval of its gain over real only, paired by seed."""
    rows: list[dict[str, Any]] = []
    for fraction in study.fractions:
        here = sorted((c for c in cells if c["fraction"] == fraction), key=lambda c: c["seed"])
        for classifier in study.classifiers:
            baseline = {m: [c["scores"]["real"][classifier][m] for c in here] for m in SCORES}
            for regime in REGIMES:
                if regime not in here[0]["scores"]:
                    continue
                values = {m: [c["scores"][regime][classifier][m] for c in here] for m in SCORES}
                row: dict[str, Any] = {
                    "fraction": fraction,
                    "real_images": here[0]["real_images"],
                    "classifier": classifier,
                    "regime": regime,
                }
                for metric in SCORES:
                    row[metric] = t_interval(values[metric]).to_dict()
                    row[f"{metric}_gain"] = paired_gain(values[metric], baseline[metric]).to_dict()
                rows.append(row)
    return rows


def generator_rows(fractions: list[float], cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row for each fraction and source (gan, vae, real): each score's interval over the
    seeds."""
    rows = []
    for fraction in fractions:
        here = [c for c in cells if c["fraction"] == fraction]
        for source in ("gan", "vae", "real"):
            if source not in here[0]["generators"]:
                continue
            found = [c["generators"][source] for c in here]
            row: dict[str, Any] = {"fraction": fraction, "source": source}
            for key in GENERATOR_METRICS:
                # every seed's, or none: a study resumed from cells written before a score
                # existed (high_frequency) leaves that score out rather than mix seeds
                if all(key in f for f in found):
                    row[key] = t_interval([f[key] for f in found]).to_dict()
            rows.append(row)
    return rows


def study_tables(
    accuracy: list[dict[str, Any]],
    generators: list[dict[str, Any]],
    cells: list[dict[str, Any]],
    eval_samples: int,
    heldout_images: int,
) -> list[dict[str, Any]]:
    """The tables of ``study.json``: the findings, then the accuracy and generator tables they
    are read from. ``eval_samples``: the samples each cell scored of each generator."""
    return [
        _findings_table(accuracy, generators, cells, eval_samples, heldout_images),
        _accuracy_table(accuracy),
        _generator_table(generators),
    ]


def format_tables(tables: list[dict[str, Any]]) -> str:
    """The tables as Markdown, as ``gankit augment`` prints them and ``table.md`` holds them."""
    lines = []
    for table in tables:
        lines += [f"### {table['title']}", ""]
        lines.append("| " + " | ".join(table["columns"]) + " |")
        lines.append("|" + "---|" * len(table["columns"]))
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in table["rows"]]
        if table.get("note"):
            lines += ["", table["note"]]
        lines.append("")
    return "\n".join(lines)


def _interval(values: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
    return Interval(**values).format(scale, digits)


def _findings_table(
    accuracy: list[dict[str, Any]],
    generators: list[dict[str, Any]],
    cells: list[dict[str, Any]],
    eval_samples: int,
    heldout_images: int,
) -> dict[str, Any]:
    """The study's questions, answered per fraction from the other two tables' numbers."""
    rows = []
    for fraction in dict.fromkeys(row["fraction"] for row in accuracy):
        gains = [r for r in accuracy if r["fraction"] == fraction and r["regime"] == "real+gan"]
        best = max(gains, key=lambda r: r["accuracy_gain"]["low"])
        above = [r["classifier"] for r in gains if r["accuracy_gain"]["low"] > 0]
        rows.append(
            [
                f"{fraction:g}",
                "Does real+GAN beat real only (accuracy, 95% interval above 0)?",
                f"{'yes' if above else 'no'}: "
                + (", ".join(above) if above else "for no classifier")
                + f"; best {best['classifier']} {_interval(best['accuracy_gain'], 100)} points",
            ]
        )
        here = [c for c in cells if c["fraction"] == fraction]
        for source in ("gan", "vae"):
            if source in here[0]["generators"]:
                copies = sum(c["generators"][source]["near_copies"] for c in here)
                exact = sum(c["generators"][source]["exact_copies"] for c in here)
                total = eval_samples * len(here)
                rows.append(
                    [
                        f"{fraction:g}",
                        f"Near (exact) copies of a training image among the {source.upper()}'s "
                        "samples, all seeds (near copies expected of a draw from p_data)",
                        f"{copies} ({exact}) of {total} ({total / (heldout_images + 1):.0f})",
                    ]
                )
        by_source = {r["source"]: r for r in generators if r["fraction"] == fraction}
        if "vae" in by_source:
            gan, vae, real = by_source["gan"], by_source["vae"], by_source["real"]
            rows.append(
                [
                    f"{fraction:g}",
                    "GAN against VAE: sharpness (real images), recall, Frechet",
                    f"{gan['sharpness']['mean']:.2f} vs {vae['sharpness']['mean']:.2f} "
                    f"({real['sharpness']['mean']:.2f}); {gan['recall']['mean']:.3f} vs "
                    f"{vae['recall']['mean']:.3f}; {gan['frechet']['mean']:.1f} vs "
                    f"{vae['frechet']['mean']:.1f}",
                ]
            )
    return {"title": "Findings", "columns": ["fraction", "question", "answer"], "rows": rows}


def _accuracy_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": "Held-out accuracy and macro-F1 (%), and the gain over real only (points)",
        "columns": [
            "fraction",
            "real images",
            "classifier",
            "training data",
            "accuracy",
            "macro-F1",
            "accuracy gain",
            "macro-F1 gain",
        ],
        "rows": [
            [
                f"{row['fraction']:g}",
                row["real_images"],
                row["classifier"],
                row["regime"],
                _interval(row["accuracy"], 100),
                _interval(row["macro_f1"], 100),
                "" if row["regime"] == "real" else _interval(row["accuracy_gain"], 100),
                "" if row["regime"] == "real" else _interval(row["macro_f1_gain"], 100),
            ]
            for row in rows
        ],
        "note": "; ".join(f"{name}: {text}" for name, text in REGIMES.items()),
    }


def _generator_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    digits = {
        "frechet": 1,
        "sharpness": 3,
        "high_frequency": 3,
        "near_copies": 1,
        "exact_copies": 1,
    }
    return {
        "title": "The generators' samples (mean [95% interval] over seeds)",
        "columns": ["fraction", "source", *GENERATOR_METRICS],
        "rows": [
            [f"{row['fraction']:g}", row["source"]]
            + [
                _interval(row[key], 1, digits.get(key, 3)) if key in row else ""
                for key in GENERATOR_METRICS
            ]
            for row in rows
        ],
        "note": (
            "Frechet, precision, recall, density and coverage in the data's feature network's "
            "space, against the held-out images; sharpness: variance of the Laplacian; "
            "high_frequency: share of spectral energy above half the Nyquist frequency; "
            "dcr_ratio: median distance to the closest training image, synthetic over "
            "held-out; near copies: samples closer to a training image than any held-out "
            "image is"
        ),
    }
