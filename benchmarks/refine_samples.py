"""Samples corrected by D on images and tables: the metrics of a conditional GAN's samples
drawn plainly and by each refinement method (DRS, MH-GAN, latent Langevin), over seeds.

Each seed trains one run with the data's default settings (the digits demo's for digits), then
scores ``eval_samples`` samples per method against the held-out images or rows, before and after
the calibration phase (``--refine-d STEPS``, D trained alone against G). Images are scored by
the image metrics, tables by their quality score, efficacy, validity counts and distance to the
training rows; a table's D must score one row at a time (``pack=1``), and Langevin, which moves
G's noise along D's gradient, is for images (``--methods`` for tables defaults to drs,mh).
Prints mean +/- standard error over seeds and writes benchmarks/results/refine_<data>.json.

    python benchmarks/refine_samples.py [--data digits] [--seeds 3] [--jobs 2]
        [--refine-d 2000] [--methods drs,mh,langevin] [KEY=VALUE ...]
    python benchmarks/refine_samples.py --data penguins pack=1
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from results_file import write_results

import gankit
from gankit.metrics.intervals import mean_and_standard_error

IMAGE_METRICS = ("frechet", "precision", "recall", "density", "coverage", "class_accuracy")
TABLE_METRICS = (
    "quality",
    "column_shapes",
    "column_pair_trends",
    "efficacy/synthetic/accuracy",
    "unseen_categories",
    "out_of_range",
    "non_integers",
    "dcr_ratio",
)


def score(run: gankit.Run, method: str) -> dict[str, float]:
    started = time.perf_counter()
    metrics = run.evaluate(refine=method)
    row = {key: metrics[key] for key in (*IMAGE_METRICS, *TABLE_METRICS) if key in metrics}
    row["acceptance"] = metrics.get("refine/acceptance_rate", 1.0)
    row["seconds"] = time.perf_counter() - started
    return row


def one_seed(
    data: str, seed: int, overrides: list[str], refine_d: int, methods: list[str]
) -> dict[str, dict]:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        config = gankit.load_config(overrides=[f"data={data}", f"seed={seed}", *overrides])
        run = gankit.train(config, out=Path(folder) / "run")
        results = {method: score(run, method) for method in ["none", *methods]}
        if refine_d:
            run.refine_discriminator(steps=refine_d, seed=seed)
            results |= {f"{m}, refined D": score(run, m) for m in methods}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--refine-d", type=int, default=2000)
    parser.add_argument(
        "--methods", help="comma-separated (default: drs,mh,langevin; tables drs,mh)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = ["progress=false", "tensorboard=false", *args.overrides]
    config = gankit.load_config(overrides=[f"data={args.data}", *overrides])  # fail fast
    from gankit.config import data_kind
    from gankit.data import load_data
    from gankit.metrics.features import feature_space

    table = data_kind(config.data) == "tables"
    methods = (args.methods or ("drs,mh" if table else "drs,mh,langevin")).split(",")
    if not table:  # the feature network is trained (or read from its cache) once, beforehand
        feature_space(load_data(gankit.load_config(overrides=[f"data={args.data}"])))
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(one_seed, args.data, seed, overrides, args.refine_d, methods)
            for seed in range(args.seeds)
        ]
        runs = [future.result() for future in futures]

    columns = [*(TABLE_METRICS if table else IMAGE_METRICS), "acceptance", "seconds"]
    print(f"{args.data}, {args.seeds} seeds, mean +/- standard error")
    print("| method | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    summary = {}
    for method in runs[0]:
        cells, summary[method] = [], {}
        for key in columns:
            values = [run[method].get(key, math.nan) for run in runs]
            mean, error = mean_and_standard_error(values)
            summary[method][key] = (mean, error)
            digits = 1 if key in ("frechet", "seconds", "out_of_range") else 3
            cells.append(f"{mean:.{digits}f} +/- {error:.{digits}f}")
        name = "plain G" if method == "none" else method
        print(f"| {name} | " + " | ".join(cells) + " |")
    write_results(
        args.out / f"refine_{args.data}.json",
        {
            "data": args.data,
            "seeds": args.seeds,
            "overrides": args.overrides,
            "results": summary,
            "per_seed": runs,
        },
    )


if __name__ == "__main__":
    main()
