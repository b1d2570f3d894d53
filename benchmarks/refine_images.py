"""Samples corrected by D on images: the image metrics of a conditional GAN's samples drawn
plainly and by each refinement method (DRS, MH-GAN, latent Langevin), over seeds.

Each seed trains one run with the data's default settings (the digits demo's for digits), then
scores ``eval_samples`` samples per method against the held-out images, before and after the
calibration phase (``--refine-d STEPS``, D trained alone against G). Prints mean +/- standard
error over seeds and writes benchmarks/results/refine_images.json.

    python benchmarks/refine_images.py [--data digits] [--seeds 3] [--jobs 2] [--refine-d 2000]
        [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

import gankit
from gankit.metrics.intervals import mean_and_standard_error

METHODS = ("none", "drs", "mh", "langevin")
METRICS = ("frechet", "precision", "recall", "density", "coverage", "class_accuracy")


def score(run: gankit.Run, method: str) -> dict[str, float]:
    started = time.perf_counter()
    metrics = run.evaluate(refine=method)
    row = {key: metrics[key] for key in METRICS if key in metrics}
    row["acceptance"] = metrics.get("refine/acceptance_rate", 1.0)
    row["seconds"] = time.perf_counter() - started
    return row


def one_seed(data: str, seed: int, overrides: list[str], refine_d: int) -> dict[str, dict]:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        config = gankit.load_config(overrides=[f"data={data}", f"seed={seed}", *overrides])
        run = gankit.train(config, out=Path(folder) / "run")
        results = {method: score(run, method) for method in METHODS}
        if refine_d:
            run.refine_discriminator(steps=refine_d, seed=seed)
            results |= {f"{m}, refined D": score(run, m) for m in METHODS if m != "none"}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--refine-d", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = ["progress=false", "tensorboard=false", *args.overrides]
    gankit.load_config(overrides=[f"data={args.data}", *overrides])  # fail fast

    # The feature network is trained (or read from its cache) once, before the workers.
    from gankit.data import load_data
    from gankit.metrics.features import feature_space

    feature_space(load_data(gankit.load_config(overrides=[f"data={args.data}"])))
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(one_seed, args.data, seed, overrides, args.refine_d)
            for seed in range(args.seeds)
        ]
        runs = [future.result() for future in futures]

    columns = [*METRICS, "acceptance", "seconds"]
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
            digits = 1 if key in ("frechet", "seconds") else 3
            cells.append(f"{mean:.{digits}f} +/- {error:.{digits}f}")
        name = "plain G" if method == "none" else method
        print(f"| {name} | " + " | ".join(cells) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "refine_images.json"
    path.write_text(
        json.dumps(
            {
                "data": args.data,
                "seeds": args.seeds,
                "overrides": args.overrides,
                "results": summary,
                "per_seed": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
