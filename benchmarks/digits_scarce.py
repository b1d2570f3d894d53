"""GANs from scarce data: digits with 10% of its training images, with and without
differentiable augmentation, over seeds; and the full training set.

Every run uses configs/digits.yaml (the demo's settings) and is scored by gankit's image
metrics against the same 359 held-out digits, on the features of the digits classifier:
Frechet distance, KID, precision, recall, density, coverage, and the share of conditional
samples the classifier puts in the class they were asked for (per class for the full set).

    python benchmarks/digits_scarce.py [--seeds 0 1 2] [--runs scarce scarce+aug full ...]
        [--full-seeds 0] [--steps N] [--out benchmarks/results/digits_scarce]

``--runs`` also takes ``scarce+ada`` and ``full+ada`` (adaptive augmentation from p = 0) and
``full-noaug``. The seeds of a run train together as one population
(gankit.training.population: one stacked step for all of them, each member the run of its
seed on the CPU, a GAN of its seed with the population's shared draws on CUDA; its time is
then the population's divided by its members); ``--separate`` trains them one run at a time.

A table goes to stdout and everything to OUT/results.json. One run takes about 2 minutes
on one CPU core; the default (3 seeds x 2 scarce runs, and the full set) about 15.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import gankit
from gankit.config import load_config

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "digits.yaml"
AUGMENT = "color,translation,cutout"
RUNS: dict[str, list[str]] = {
    "scarce": ["image.train_fraction=0.1", "augment.policy=[]"],
    "scarce+aug": ["image.train_fraction=0.1", f"augment.policy={AUGMENT}"],
    "scarce+ada": [
        "image.train_fraction=0.1",
        f"augment.policy={AUGMENT}",
        "augment.adaptive=true",
        "augment.p=0",
    ],
    "full": [],  # the config's own augmentation
    "full-noaug": ["augment.policy=[]"],
    "full+ada": [f"augment.policy={AUGMENT}", "augment.adaptive=true", "augment.p=0"],
}
COLUMNS = ("frechet", "kid", "precision", "recall", "density", "coverage", "class_accuracy")


def run_one(name: str, seed: int, steps: int | None, out: Path) -> dict[str, Any]:
    overrides = [*RUNS[name], f"seed={seed}", "progress=false"]
    if steps is not None:
        overrides.append(f"steps={steps}")
    config = load_config(CONFIG, overrides)
    started = time.perf_counter()
    run = gankit.train(config, out=out / f"{name}-seed{seed}", overwrite=True)
    summary = run.summary()
    summary.update(run=name, seed=seed, wall_seconds=round(time.perf_counter() - started, 1))
    return summary


def run_seeds(
    name: str, seeds: list[int], steps: int | None, out: Path, separate: bool
) -> list[dict[str, Any]]:
    """The runs of ``seeds``: one population when they are consecutive, else one at a time."""
    consecutive = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    if separate or len(seeds) == 1 or not consecutive:
        return [run_one(name, seed, steps, out) for seed in seeds]
    overrides = [*RUNS[name], f"seed={seeds[0]}", f"population.seeds={len(seeds)}"]
    overrides += ["progress=false", *([f"steps={steps}"] if steps is not None else [])]
    started = time.perf_counter()
    population = gankit.train(load_config(CONFIG, overrides), out=out / name, overwrite=True)
    seconds = (time.perf_counter() - started) / len(seeds)  # a member's share
    if len(population.runs) != len(seeds):
        raise SystemExit(f"{name}: a member of the population diverged; see the log")
    results = []
    for run, seed in zip(population.runs, seeds, strict=True):
        summary = run.summary()
        summary.update(run=name, seed=seed, wall_seconds=round(seconds, 1))
        results.append(summary)
    return results


def table(results: list[dict[str, Any]]) -> str:
    header = f"{'run':<11} {'seed':>4} {'images':>6} " + " ".join(f"{c:>14}" for c in COLUMNS)
    lines = [header, "-" * len(header)]
    for result in results:
        cells = " ".join(f"{result[c]:>14.4g}" for c in COLUMNS)
        lines.append(f"{result['run']:<11} {result['seed']:>4} {result['train_images']:>6} {cells}")
    for name in RUNS:
        group = [result for result in results if result["run"] == name]
        if len(group) > 1:
            cells = " ".join(
                f"{statistics.mean(r[c] for r in group):>7.4g}"
                f"+-{statistics.stdev(r[c] for r in group):<5.2g}"
                for c in COLUMNS
            )
            lines.append(f"{name:<11} {'mean':>4} {group[0]['train_images']:>6} {cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--runs", nargs="+", choices=list(RUNS), default=["scarce", "scarce+aug", "full"]
    )
    parser.add_argument("--full-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, help="override the config's steps (a quick look)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/digits_scarce"))
    parser.add_argument(
        "--separate", action="store_true", help="one run per seed, not a population per run"
    )
    args = parser.parse_args()
    results = []
    for name in args.runs:
        seeds = args.full_seeds if name.startswith("full") else args.seeds
        for result in run_seeds(name, seeds, args.steps, args.out, args.separate):
            results.append(result)
            print(table(results[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(results))
    for result in results:
        if result["run"].startswith("full"):
            per_class = {k.split("/")[1]: v for k, v in result.items() if "class_accuracy/" in k}
            print(f"\n{result['run']}, seed {result['seed']}: class accuracy per class")
            print("  ".join(f"{digit}: {accuracy:.2f}" for digit, accuracy in per_class.items()))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults in {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
