"""Mode coverage on ring8 and grid25 over seeds, beside PacGAN's Table 1 (Lin et al. 2018).

Protocol: train with the given settings, draw 2,500 samples of G, and score them with the
PacGAN metrics (modes captured, % high-quality samples, reverse KL); report mean +/- the
standard error over seeds, and the wall time of each run. The seeds of each data set train
together as one population (gankit.training.population: one stacked step for all of them; a
run's time is then the population's divided by its members); ``--separate`` trains them one
run at a time instead. Each run's samples are also drawn
corrected by D (``--refine``: DRS, MH-GAN, latent Langevin; see gankit.sampling), with each
method's acceptance rate and seconds; ``--refine-d STEPS`` first trains a D alone against G
(the calibration phase: ``--refine-model`` fourier, a fresh D on Fourier features, by default
for these vectors, or a copy of the run's) and scores every method again with that D.

    python benchmarks/mode_coverage.py [--seeds 5] [--jobs 2] [--data ring8,grid25]
        [--refine none,drs,mh,langevin] [--refine-d 2000] [--refine-batch 1024]
        [--refine-model auto] [--separate] [KEY=VALUE ...]
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

PUBLISHED = {  # PacGAN Table 1, mean +/- standard error: ring modes, HQ %, rev. KL; grid ...
    "GAN": ("6.3+/-0.5", "98.2+/-0.2", "0.45+/-0.09", "17.3+/-0.8", "94.8+/-0.7", "0.70+/-0.07"),
    "PacGAN2": ("7.9+/-0.1", "95.6+/-2.0", "0.07+/-0.03", "23.8+/-0.7", "91.3+/-0.8", "0.13+/-.04"),
    "PacGAN3": ("7.8+/-0.1", "97.7+/-0.3", "0.10+/-0.02", "24.6+/-0.4", "94.2+/-0.4", "0.06+/-.02"),
    "PacGAN4": ("7.8+/-0.1", "95.9+/-1.4", "0.07+/-0.02", "24.8+/-0.2", "93.6+/-0.6", "0.04+/-.01"),
}
METRICS = ("modes", "high_quality", "reverse_kl", "acceptance", "seconds")


def score(run: gankit.Run, method: str, seconds: float) -> dict[str, float]:
    """The PacGAN metrics of the run's evaluation samples, drawn by ``method`` (HQ in %)."""
    started = time.perf_counter()
    metrics = run.evaluate(refine=method)
    return {
        "modes": metrics["modes"],
        "high_quality": 100 * metrics["high_quality"],
        "reverse_kl": math.nan if metrics["reverse_kl"] is None else metrics["reverse_kl"],
        "acceptance": metrics.get("refine/acceptance_rate", 1.0),
        "seconds": seconds if method == "none" else time.perf_counter() - started,
    }


def train(
    data: str,
    seeds: list[int],
    overrides: list[str],
    methods: list[str],
    refine_d: int,
    refine_batch: int | None,
    refine_model: str,
) -> list[dict[str, dict[str, float]]]:
    """Runs of ``seeds`` (one population, or one run when given one seed), each scored by every
    method (and again after the calibration phase, if asked)."""
    with tempfile.TemporaryDirectory() as folder:
        settings = dict(item.split("=", 1) for item in overrides)
        config = gankit.load_config(
            overrides=[
                f"data={data}",
                f"seed={seeds[0]}",
                f"population.seeds={len(seeds)}",
                "progress=false",
                *(f"{k}={v}" for k, v in settings.items()),
            ]
        )
        started = time.perf_counter()
        trained = gankit.train(config, out=Path(folder) / "run")
        seconds = (time.perf_counter() - started) / len(seeds)  # a member's share
        runs = trained.runs if len(seeds) > 1 else [trained]
        if len(runs) != len(seeds):
            raise SystemExit(f"{data}: a member of the population diverged; see the log")
        all_results = []
        for run, seed in zip(runs, seeds, strict=True):
            results = {method: score(run, method, seconds) for method in methods}
            if refine_d:
                run.refine_discriminator(refine_d, seed, refine_batch, refine_model)
                results |= {
                    f"{method}, refined D": score(run, method, seconds)
                    for method in methods
                    if method != "none"
                }
            all_results.append(results)
    return all_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one thread each)")
    parser.add_argument("--data", default="ring8,grid25", help="comma-separated data names")
    parser.add_argument("--refine", default="none,drs,mh,langevin", help="methods to score")
    parser.add_argument("--refine-d", type=int, default=0, help="calibration steps (0: none)")
    parser.add_argument("--refine-batch", type=int, help="its batch size (default: the run's)")
    parser.add_argument("--refine-model", default="auto", help="its D: auto, fourier or copy")
    parser.add_argument(
        "--separate", action="store_true", help="one run per seed, not a population per data"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    args.data = args.data.split(",")
    args.refine = args.refine.split(",")
    gankit.load_config(overrides=args.overrides)  # fail fast on a bad setting
    torch.set_num_threads(1)

    seeds = list(range(args.seeds))
    groups = [[seed] for seed in seeds] if args.separate else [seeds]
    jobs = [(data, group) for data in args.data for group in groups]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(
                train,
                data,
                group,
                args.overrides,
                args.refine,
                args.refine_d,
                args.refine_batch,
                args.refine_model,
            )
            for data, group in jobs
        ]
        runs = {
            (data, seed): result
            for (data, group), future in zip(jobs, futures, strict=True)
            for seed, result in zip(group, future.result(), strict=True)
        }
    wall = time.perf_counter() - started

    methods = list(runs[(args.data[0], 0)])
    summary: dict[str, dict[str, dict]] = {method: {} for method in methods}
    for method in methods:
        for data in args.data:
            results = [runs[(data, seed)][method] for seed in range(args.seeds)]
            row = {key: mean_and_standard_error([r[key] for r in results]) for key in METRICS}
            summary[method][data] = {**row, "per_seed": results}

    print(
        f"gankit ({' '.join(args.overrides) or 'default settings'}), {args.seeds} seeds "
        f"({'one run at a time' if args.separate else 'a population per data set'}), "
        f"mean +/- standard error; {wall:.0f} s end to end"
    )
    print(
        "| method | "
        + " | ".join(
            f"{d} modes | {d} HQ % | {d} rev. KL | {d} acceptance | {d} s" for d in args.data
        )
        + " |"
    )
    for method in methods:
        cells = []
        for data in args.data:
            for key, digits in zip(METRICS, (1, 1, 3, 2, 1), strict=True):
                mean, error = summary[method][data][key]
                cells.append(f"{mean:.{digits}f}+/-{error:.{digits}f}")
        name = "plain G" if method == "none" else method
        print(f"| gankit, {name} | " + " | ".join(cells) + " |")
    if args.data == ["ring8", "grid25"]:
        for method, row in PUBLISHED.items():
            cells = [*row[:3], "", "", *row[3:], "", ""]
            print(f"| {method} (published) | " + " | ".join(cells) + " |")
    write_results(
        args.out / "mode_coverage.json",
        {
            "benchmark": "mode_coverage",
            "overrides": args.overrides,
            "seeds": args.seeds,
            "population": not args.separate,
            "refine_d": {
                "steps": args.refine_d,
                "batch_size": args.refine_batch,
                "model": args.refine_model,
            },
            "seconds_end_to_end": round(wall, 1),
            "results": summary,
        },
    )


if __name__ == "__main__":
    main()
