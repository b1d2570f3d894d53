"""Synthetic tables beside the reference implementation: gankit against ctgan's CTGAN and TVAE.

Protocol: on each built-in table and seed, gankit trains with the tables' default settings
(``KIND_DEFAULTS["tables"]``) and ctgan's CTGAN (``epochs=300``) and TVAE train with their
own defaults, all on the same training rows (``load_data(...).frame``). Each model draws
``min(5 * len(heldout), 5000)`` rows, scored by ``gankit.metrics.tables.table_metrics``
against the same training and held-out rows; then it draws 100,000 rows, timed (rows/s).
Every (model, table, seed) runs alone in a fresh worker process on one thread (torch, BLAS
and OpenMP), which reports its peak resident memory. ctgan takes no missing value in a numeric
column (it raises) and none well in a discrete one: a missing category becomes the string
"nan" for it (and missing again in its rows); a missing number is filled with the training
column's median. Prints mean +/- standard error over seeds, the fit-time and sampling-speed
ratios of gankit to CTGAN, and writes benchmarks/results/tables.json.

    python benchmarks/tables.py [--seeds 3] [--jobs 2] [--tables penguins,fair,breast_cancer]
        [--models gankit,ctgan,tvae] [--ctgan-epochs 300]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from results_file import write_results

from gankit.metrics.intervals import mean_and_standard_error

TABLES = ("penguins", "fair", "breast_cancer")
MODELS = ("gankit", "ctgan", "tvae")
NAMES = {"gankit": "gankit", "ctgan": "CTGAN", "tvae": "TVAE"}
EFFICACY = ("accuracy", "macro_f1", "pr_auc")
METRICS = (
    "quality",
    "column_shapes",
    "column_pair_trends",
    *(f"efficacy/synthetic/{m}" for m in EFFICACY),
    "unseen_categories",
    "out_of_range",
    "non_integers",
    "dcr_ratio",
    "fit_seconds",
    "summary_seconds",
    "rows_per_second",
    "peak_mb",
)
SHOWN = {  # column heading, digits
    "quality": ("quality", 3),
    "column_shapes": ("shapes", 3),
    "column_pair_trends": ("pair trends", 3),
    "efficacy/synthetic/accuracy": ("TSTR acc.", 3),
    "efficacy/synthetic/macro_f1": ("TSTR macro-F1", 3),
    "efficacy/synthetic/pr_auc": ("TSTR PR-AUC", 3),
    "unseen_categories": ("unseen cat.", 1),
    "out_of_range": ("out of range", 1),
    "non_integers": ("non-integers", 1),
    "dcr_ratio": ("DCR ratio", 3),
    "fit_seconds": ("fit s", 1),
    "rows_per_second": ("rows/s", 0),
    "peak_mb": ("peak MB", 0),
}
SPEED_ROWS = 100_000
SCORE_CAP = 5000
NOTES = (
    "ctgan (CTGAN, TVAE) is given the training rows with each missing category replaced by "
    "the string 'nan' (mapped back to missing in its synthetic rows) and each missing number "
    "replaced by the training column's median (CTGAN raises on missing numbers); gankit "
    "trains on the rows as they are. Only penguins has missing values."
)


def table_data(table: str):
    import gankit
    from gankit.data import load_data

    return load_data(gankit.load_config(overrides=[f"data={table}"]))


def for_ctgan(frame, kinds: dict[str, str]):
    """The training rows as ctgan takes them: no missing value anywhere."""
    frame = frame.copy()
    for column, kind in kinds.items():
        if kind == "categorical":
            if frame[column].isna().any():
                frame[column] = frame[column].astype(object).where(frame[column].notna(), "nan")
        elif frame[column].isna().any():
            frame[column] = frame[column].fillna(frame[column].median())
    return frame


def from_ctgan(frame, kinds: dict[str, str], filled: list[str]):
    """ctgan's rows with the "nan" category missing again."""
    frame = frame.copy()
    for column in filled:
        frame[column] = frame[column].where(frame[column].astype(str) != "nan", np.nan)
    return frame


def run_one(model: str, table: str, seed: int, ctgan_epochs: int) -> dict[str, float]:
    """Fit one model on one table, score its rows, time its sampling; in its own process."""
    import torch

    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # numpy's BLAS and scikit-learn's OpenMP too: one core per job
    import gankit
    from gankit.metrics.tables import table_metrics

    data = table_data(table)
    kinds = {column.name: column.kind for column in data.columns}
    train, heldout = data.frame, data.heldout
    n_score = min(5 * len(heldout), SCORE_CAP)
    row: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        if model == "gankit":
            started = time.perf_counter()
            run = gankit.train(
                {"data": table, "seed": seed, "progress": False, "tensorboard": False},
                out=Path(folder) / "run",
            )
            row["fit_seconds"] = time.perf_counter() - started
            row["summary_seconds"] = float(run.summary().get("seconds", math.nan))
            synthetic = run.sample(n_score, seed=seed)
            started = time.perf_counter()
            run.sample(SPEED_ROWS, seed=seed + 1)
            row["rows_per_second"] = SPEED_ROWS / (time.perf_counter() - started)
        else:
            from ctgan import CTGAN, TVAE
            from joblib import parallel_config

            torch.manual_seed(seed)
            np.random.seed(seed)
            synthesizer = (
                CTGAN(epochs=ctgan_epochs, enable_gpu=False)
                if model == "ctgan"
                else TVAE(epochs=ctgan_epochs, enable_gpu=False)
            )
            if hasattr(synthesizer, "set_random_state"):
                synthesizer.set_random_state(seed)
            discrete = [c for c, kind in kinds.items() if kind == "categorical"]
            filled = [c for c in discrete if train[c].isna().any()]
            # ctgan transforms the columns of a table over 500 rows by joblib's Parallel(n_jobs=
            # -1), whose worker processes hang in these spawned workers: one job, one process.
            with parallel_config(backend="sequential"):
                started = time.perf_counter()
                synthesizer.fit(for_ctgan(train[list(kinds)], kinds), discrete_columns=discrete)
                row["fit_seconds"] = time.perf_counter() - started
                row["summary_seconds"] = math.nan
                synthetic = from_ctgan(synthesizer.sample(n_score), kinds, filled)
                started = time.perf_counter()
                synthesizer.sample(SPEED_ROWS)
                row["rows_per_second"] = SPEED_ROWS / (time.perf_counter() - started)
    metrics = table_metrics(synthetic, train, heldout, kinds, data.target, seed)
    for key in METRICS:
        if key in metrics:
            row[key] = float(metrics[key])
    for key, value in metrics.items():
        if key.startswith("efficacy/real/"):
            row[key] = float(value)
    row["scored_rows"] = n_score
    row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def cell(pair: tuple[float, float], digits: int) -> str:
    mean, error = pair
    return f"{mean:.{digits}f}+/-{error:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated tables")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated models")
    parser.add_argument("--ctgan-epochs", type=int, default=300, help="CTGAN and TVAE epochs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    args.tables = args.tables.split(",")
    args.models = args.models.split(",")
    for model in args.models:
        if model not in MODELS:
            parser.error(f"unknown model {model!r} (one of {', '.join(MODELS)})")

    started = time.perf_counter()
    jobs = [(m, t, s) for t in args.tables for m in args.models for s in range(args.seeds)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {job: pool.submit(run_one, *job, args.ctgan_epochs) for job in jobs}
        runs = {job: future.result() for job, future in futures.items()}
    wall = time.perf_counter() - started

    summary: dict[str, dict] = {}
    for table in args.tables:
        summary[table] = {}
        for model in args.models:
            results = [runs[(model, table, s)] for s in range(args.seeds)]
            keys = [k for k in results[0] if k != "scored_rows"]
            row = {k: mean_and_standard_error([r.get(k, math.nan) for r in results]) for k in keys}
            summary[table][model] = {**row, "per_seed": results}
        first = summary[table][args.models[0]]
        summary[table]["real"] = {
            k: v for k, v in first.items() if isinstance(k, str) and k.startswith("efficacy/real")
        }
        summary[table]["scored_rows"] = runs[(args.models[0], table, 0)]["scored_rows"]
        if "gankit" in args.models and "ctgan" in args.models:
            g, c = summary[table]["gankit"], summary[table]["ctgan"]
            summary[table]["ratios"] = {
                "fit_seconds gankit/CTGAN": g["fit_seconds"][0] / c["fit_seconds"][0],
                "rows_per_second gankit/CTGAN": g["rows_per_second"][0] / c["rows_per_second"][0],
            }

    print(
        f"gankit (tables' defaults) vs ctgan {args.ctgan_epochs} epochs, {args.seeds} seeds, "
        f"mean +/- standard error; {args.jobs} jobs, one torch thread each"
    )
    print("| table | model | " + " | ".join(name for name, _ in SHOWN.values()) + " |")
    print("|---|---|" + "---|" * len(SHOWN))
    for table in args.tables:
        for model in args.models:
            row = summary[table][model]
            cells = [
                cell(row.get(k, (math.nan, math.nan)), digits) for k, (_, digits) in SHOWN.items()
            ]
            print(f"| {table} | {NAMES[model]} | " + " | ".join(cells) + " |")
        real = summary[table]["real"]
        cells = [
            cell(real[k.replace("/synthetic/", "/real/")], d)
            if k.replace("/synthetic/", "/real/") in real and k.startswith("efficacy/")
            else ""
            for k, (_, d) in SHOWN.items()
        ]
        print(f"| {table} | real rows (TRTR) | " + " | ".join(cells) + " |")
    print()
    if any("ratios" in summary[t] for t in args.tables):
        print("| table | scored rows | gankit fit s / CTGAN fit s | gankit rows/s / CTGAN rows/s |")
        print("|---|---|---|---|")
        for table in args.tables:
            ratios = summary[table].get("ratios")
            if ratios:
                print(
                    f"| {table} | {summary[table]['scored_rows']} | "
                    f"{ratios['fit_seconds gankit/CTGAN']:.2f} | "
                    f"{ratios['rows_per_second gankit/CTGAN']:.2f} |"
                )
    if "gankit" in args.models:
        print("\ngankit summary 'seconds' (training as the run records it):")
        for table in args.tables:
            print(f"  {table}: {cell(summary[table]['gankit']['summary_seconds'], 1)}")
    print(f"\nwall time {wall:.0f} s")

    write_results(
        args.out / "tables.json",
        {
            "benchmark": "tables",
            "seeds": args.seeds,
            "jobs": args.jobs,
            "ctgan_epochs": args.ctgan_epochs,
            "speed_rows": SPEED_ROWS,
            "wall_seconds": wall,
            "notes": NOTES,
            "results": summary,
        },
    )


if __name__ == "__main__":
    main()
