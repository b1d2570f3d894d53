"""Mode coverage on ring8 and grid25 over seeds, beside PacGAN's Table 1 (Lin et al. 2018).

Protocol: train with the given settings, draw 2,500 samples of G, and score them with the
PacGAN metrics (modes captured, % high-quality samples, reverse KL); report mean +/- the
standard error over seeds, and the wall time of each run.

    python benchmarks/mode_coverage.py [--seeds 5] [--jobs 2] [--data ring8,grid25] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

import gankit

PUBLISHED = {  # PacGAN Table 1, mean +/- standard error: ring modes, HQ %, rev. KL; grid ...
    "GAN": ("6.3+/-0.5", "98.2+/-0.2", "0.45+/-0.09", "17.3+/-0.8", "94.8+/-0.7", "0.70+/-0.07"),
    "PacGAN2": ("7.9+/-0.1", "95.6+/-2.0", "0.07+/-0.03", "23.8+/-0.7", "91.3+/-0.8", "0.13+/-.04"),
    "PacGAN3": ("7.8+/-0.1", "97.7+/-0.3", "0.10+/-0.02", "24.6+/-0.4", "94.2+/-0.4", "0.06+/-.02"),
    "PacGAN4": ("7.8+/-0.1", "95.9+/-1.4", "0.07+/-0.02", "24.8+/-0.2", "93.6+/-0.6", "0.04+/-.01"),
}
METRICS = ("modes", "high_quality", "reverse_kl", "seconds")


def train_one(data: str, seed: int, overrides: list[str]) -> dict[str, float]:
    """One run; returns its summary metrics (high quality in %)."""
    with tempfile.TemporaryDirectory() as folder:
        settings = dict(item.split("=", 1) for item in overrides)
        config = gankit.load_config(
            overrides=[
                f"data={data}",
                f"seed={seed}",
                "progress=false",
                *(f"{k}={v}" for k, v in settings.items()),
            ]
        )
        started = time.perf_counter()
        run = gankit.train(config, out=Path(folder) / "run")
        seconds = time.perf_counter() - started
        summary = run.summary()
    return {
        "modes": summary["modes"],
        "high_quality": 100 * summary["high_quality"],
        "reverse_kl": math.nan
        if summary["reverse_kl"] is None
        else summary["reverse_kl"],  # no HQ sample
        "seconds": seconds,
    }


def mean_and_error(values: list[float]) -> tuple[float, float]:
    """The mean and its standard error, s / sqrt(n)."""
    array = np.asarray(values, dtype=float)
    error = array.std(ddof=1) / math.sqrt(len(array)) if len(array) > 1 else math.nan
    return float(array.mean()), float(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument("--data", default="ring8,grid25", help="comma-separated data names")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    args.data = args.data.split(",")
    gankit.load_config(overrides=args.overrides)  # fail fast on a bad setting
    torch.set_num_threads(1)

    jobs = [(data, seed) for data in args.data for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {job: pool.submit(train_one, *job, args.overrides) for job in jobs}
        runs = {job: future.result() for job, future in futures.items()}

    summary: dict[str, dict[str, list[float]]] = {}
    for data in args.data:
        results = [runs[(data, seed)] for seed in range(args.seeds)]
        summary[data] = {key: mean_and_error([r[key] for r in results]) for key in METRICS}
        summary[data]["per_seed"] = results

    print(
        f"gankit ({' '.join(args.overrides) or 'default settings'}), {args.seeds} seeds, "
        "mean +/- standard error"
    )
    print(
        "| method | "
        + " | ".join(f"{d} modes | {d} HQ % | {d} rev. KL | {d} s" for d in args.data)
        + " |"
    )
    cells = []
    for data in args.data:
        for key, digits in zip(METRICS, (1, 1, 3, 0), strict=True):
            mean, error = summary[data][key]
            cells.append(f"{mean:.{digits}f}+/-{error:.{digits}f}")
    print("| gankit | " + " | ".join(cells) + " |")
    if args.data == ["ring8", "grid25"]:
        for method, row in PUBLISHED.items():
            print(f"| {method} (published) | " + " | ".join([*row[:3], "", *row[3:], ""]) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "mode_coverage.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": "mode_coverage",
                "overrides": args.overrides,
                "seeds": args.seeds,
                "results": summary,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
