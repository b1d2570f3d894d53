"""GAN against VAE on the same images with the same budget, over seeds: are the VAE's samples
blurry and the GAN's sharp?

    python benchmarks/gan_vs_vae.py --config configs/mnist.yaml --seeds 0 1 2
        [--out benchmarks/results/gan_vs_vae] [KEY=VALUE ...]

For each seed S: the config's GAN (``gankit.train``, with seed=S, into OUT/gan-seed-S), then a
conditional VAE (``gankit.vae.train_vae``) on the same training images for the same steps and
batch size, as ``gankit augment``'s cells train theirs; the wall time of each (both on the
config's ``threads``, the GAN's with its evaluations every ``eval_every`` steps). Both draw the
config's ``eval_samples`` samples, each class in turn, scored as the study scores them
(``gankit.studies.cells.score_images``): against the held-out images, Frechet distance, KID,
precision, recall, density, coverage and class accuracy in the feature network's space, near
and exact copies of a training image and dcr_ratio in pixel space, and the sharpness measures
of ``gankit.metrics.sharpness`` (variance of the Laplacian; share of spectral energy above
half the Nyquist frequency), their means over the samples.

"real (a second draw)" is as many training images, drawn without replacement with the seed,
with their labels, scored the same way: the floor of each metric. Their copy counts and
dcr_ratio are n/a (each is its own closest training image), and their class accuracy is the
feature network's accuracy on images it trained on. "real held-out" is the held-out images'
sharpness. A Markdown table of mean +/- standard error over seeds goes to stdout, with a line
per sharpness measure saying which generator is sharper and whether the intervals separate;
the per-seed numbers go to OUT/gan_vs_vae.json, and GAN and VAE samples side by side, a row per
class, to OUT/samples-seed-S.png for the first seed.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import gankit
from gankit.config import load_config
from gankit.data import ImageData
from gankit.metrics.intervals import mean_and_standard_error, t_interval
from gankit.metrics.sharpness import sharpness_scores
from gankit.output.image_grids import save_grid
from gankit.studies.cells import score_images
from gankit.threads import torch_threads
from gankit.vae import train_vae

METRICS = {  # key: (label in the table, digits)
    "frechet": ("Frechet distance (lower is better)", 2),
    "kid": ("KID (lower is better)", 3),
    "precision": ("precision", 3),
    "recall": ("recall", 3),
    "density": ("density", 3),
    "coverage": ("coverage", 3),
    "class_accuracy": ("class accuracy", 3),
    "near_copies": ("near copies of a training image", 1),
    "exact_copies": ("exact copies", 1),
    "dcr_ratio": ("dcr_ratio (1: as far from training as held-out)", 3),
    "sharpness": ("sharpness: Laplacian variance (higher: sharper)", 3),
    "high_frequency": ("sharpness: high-frequency share (higher: sharper)", 4),
    "seconds": ("seconds of training (wall)", 1),
}
SHARPNESS = {"sharpness": "Laplacian variance", "high_frequency": "high-frequency share"}
MEMORISATION = ("near_copies", "exact_copies", "dcr_ratio")
"""Meaningless for training images scored against the training images: n/a in the real row."""
SOURCES = {
    "gan": "GAN",
    "vae": "VAE",
    "real": "real (a second draw)",
    "heldout": "real held-out",
}
GRID_COLUMNS = 8  # samples of each generator in a row of the picture


def run_seed(
    config_path: Path | None, overrides: list[str], seed: int, out: Path, picture: bool
) -> dict[str, dict[str, Any]]:
    """Train both generators with ``seed`` and score them and a second real draw."""
    config = load_config(config_path, ["progress=false", *overrides, f"seed={seed}"])
    started = time.perf_counter()
    run = gankit.train(config, out=out / f"gan-seed-{seed}", overwrite=True)
    gan_seconds = time.perf_counter() - started
    data = run.data
    if not isinstance(data, ImageData) or not data.num_classes or not config.conditional:
        raise SystemExit("gan_vs_vae.py needs labelled images and a class-conditional GAN")

    started = time.perf_counter()
    vae, _ = train_vae(
        data,
        steps=config.steps,
        batch_size=config.batch_size,
        seed=seed,
        threads=config.threads,
    )
    vae_seconds = time.perf_counter() - started

    count = config.eval_samples
    with torch_threads(config.threads):
        results = {
            "gan": {
                **_scores(*run.generate(count, seed), data, seed),
                "seconds": gan_seconds,
                "steps": run.summary().get("step"),
            },
            "vae": {
                **_scores(*vae.generate(count, seed), data, seed),
                "seconds": vae_seconds,
                "steps": config.steps,
            },
            "real": _real_draw(data, count, seed),
            "heldout": sharpness_scores(data.heldout_images),
        }
    if picture:
        path = out / f"samples-seed-{seed}.png"
        save_side_by_side(run.generate, vae.generate, data.num_classes, seed, path)
    return results


def _scores(images: Tensor, labels: Tensor | None, data: ImageData, seed: int) -> dict[str, Any]:
    """The table's metrics of ``images`` (None where there is none), scored as the study does."""
    metrics = score_images(images, labels, data, seed)
    return {key: metrics.get(key) for key in METRICS if key != "seconds"}


def _real_draw(data: ImageData, count: int, seed: int) -> dict[str, Any]:
    """``count`` training images (all of them, if fewer) drawn with ``seed``, scored against the
    held-out images like the generators' samples."""
    chosen = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(seed))
    chosen = chosen[:count].to(data.images.device)
    metrics = _scores(data.images[chosen], data.labels[chosen], data, seed)
    return {**metrics, **dict.fromkeys(MEMORISATION), "images": len(chosen)}


Generate = Callable[[int, int], tuple[Tensor, Tensor | None]]


def save_side_by_side(
    gan_generate: Generate, vae_generate: Generate, num_classes: int, seed: int, path: Path
) -> None:
    """A row per class: GRID_COLUMNS of the GAN's samples, a blank, as many of the VAE's."""
    count = GRID_COLUMNS * num_classes
    halves = []
    for generate in (gan_generate, vae_generate):
        images, labels = generate(count, seed)
        assert labels is not None  # conditional: each class in turn
        halves.append(images.clamp(-1, 1)[labels.argsort(stable=True)].cpu())
    gan, vae = (half.view(num_classes, GRID_COLUMNS, *half.shape[1:]) for half in halves)
    blank = torch.zeros_like(gan[:, :1])  # mid grey, as the grid's gaps are
    rows = torch.cat([gan, blank, vae], dim=1)
    save_grid(rows.flatten(0, 1), path, columns=2 * GRID_COLUMNS + 1)


def summarise(per_seed: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per source and metric: mean, standard error and 95% t interval over the seeds (the three
    None for one seed); a metric that is n/a for a source is left out."""
    summary: dict[str, dict[str, Any]] = {}
    for source in SOURCES:
        summary[source] = {}
        for key in METRICS:
            values = [seed[source].get(key) for seed in per_seed]
            if any(value is None for value in values):
                continue
            mean, error = mean_and_standard_error(values)
            interval = t_interval(values)
            summary[source][key] = {
                "mean": mean,
                **{
                    name: None if math.isnan(value) else value
                    for name, value in [
                        ("standard_error", error),
                        ("low95", interval.low),
                        ("high95", interval.high),
                    ]
                },
            }
    return summary


def _cell(stats: dict[str, Any] | None, digits: int) -> str:
    if stats is None:
        return "n/a"
    if stats["standard_error"] is None:
        return f"{stats['mean']:.{digits}f}"
    return f"{stats['mean']:.{digits}f} ± {stats['standard_error']:.{digits}f}"


def table(summary: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| metric | " + " | ".join(SOURCES.values()) + " |",
        "|---|" + "---|" * len(SOURCES),
    ]
    for key, (label, digits) in METRICS.items():
        cells = [_cell(summary[source].get(key), digits) for source in SOURCES]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Which generator is sharper by each measure, whether their mean +/- standard error
    intervals (and their 95% t intervals) separate, and whose mean is the nearer to the held-out
    images' (sharper is not better past the real images' value: noise is sharp)."""
    found = []
    for key in SHARPNESS:
        gan, vae = summary["gan"][key], summary["vae"][key]
        sharper, softer = ("gan", "vae") if gan["mean"] > vae["mean"] else ("vae", "gan")
        high, low = summary[sharper][key], summary[softer][key]
        separate: dict[str, bool | None] = {"standard_error": None, "t95": None}
        if high["standard_error"] is not None:  # else one seed: no interval
            separate = {
                "standard_error": high["mean"] - high["standard_error"]
                > low["mean"] + low["standard_error"],
                "t95": high["low95"] > low["high95"],
            }
        real = summary["heldout"][key]["mean"]
        nearer = min(("gan", "vae"), key=lambda source: abs(summary[source][key]["mean"] - real))
        found.append(
            {"measure": key, "sharper": sharper, "separate": separate, "nearer_real": nearer}
        )
    return found


def verdict_line(verdict: dict[str, Any], summary: dict[str, dict[str, Any]]) -> str:
    key, sharper = verdict["measure"], verdict["sharper"]
    digits = METRICS[key][1]
    softer = "vae" if sharper == "gan" else "gan"
    means = ", ".join(
        f"{SOURCES[s]} {summary[s][key]['mean']:.{digits}f}" for s in (sharper, softer, "heldout")
    )
    separate = verdict["separate"]
    if separate["standard_error"] is None:
        how = "one seed, so no interval to compare"
    else:
        how = (
            f"the mean ± standard error intervals {'' if separate['standard_error'] else 'do not '}"
            f"separate; the 95% t intervals {'' if separate['t95'] else 'do not '}separate"
        )
    nearer = SOURCES[verdict["nearer_real"]]
    return (
        f"By {SHARPNESS[key]}, the {SOURCES[sharper]} is sharper ({means}): {how}; "
        f"the {nearer}'s is the nearer to the held-out images'."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="a training config of labelled images")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gan_vs_vae"))
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    config = load_config(args.config, args.overrides)  # fail fast on a bad setting
    started = time.perf_counter()
    per_seed = []
    for index, seed in enumerate(args.seeds):
        per_seed.append(run_seed(args.config, args.overrides, seed, args.out, index == 0))
        gan, vae = per_seed[-1]["gan"], per_seed[-1]["vae"]
        print(
            f"seed {seed}: GAN {gan['seconds']:.0f} s, Frechet {gan['frechet']:.2f}, "
            f"Laplacian variance {gan['sharpness']:.3f}; VAE {vae['seconds']:.0f} s, "
            f"Frechet {vae['frechet']:.2f}, Laplacian variance {vae['sharpness']:.3f}",
            flush=True,
        )
    wall = time.perf_counter() - started
    summary = summarise(per_seed)
    found = verdicts(summary)
    real_images = per_seed[0]["real"]["images"]

    print()
    print(
        f"GAN against VAE on {config.data}: {config.steps} steps of batch {config.batch_size} "
        f"each, {len(args.seeds)} seed{'s' if len(args.seeds) > 1 else ''}, "
        f"{config.eval_samples} samples each against the "
        f"held-out images (real draw: {real_images} training images); mean ± standard error "
        f"over seeds; {wall:.0f} s end to end"
    )
    print()
    print(table(summary))
    print()
    print(
        "real (a second draw): training images, so copies and dcr_ratio are n/a and class "
        "accuracy is the feature network's on images it trained on."
    )
    print()
    for verdict in found:
        print(verdict_line(verdict, summary))
    gan_steps = {seed_result["gan"]["steps"] for seed_result in per_seed}
    if gan_steps != {config.steps}:
        print(f"(the GAN stopped early at steps {sorted(gan_steps)}; the VAE ran {config.steps})")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gan_vs_vae.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": "gan_vs_vae",
                "config": str(args.config) if args.config else None,
                "overrides": args.overrides,
                "data": config.data,
                "steps": config.steps,
                "batch_size": config.batch_size,
                "eval_samples": config.eval_samples,
                "real_images": real_images,
                "seeds": args.seeds,
                "seconds_end_to_end": round(wall, 1),
                "sources": SOURCES,
                "summary": summary,
                "verdicts": found,
                "per_seed": [
                    {"seed": seed, **result}
                    for seed, result in zip(args.seeds, per_seed, strict=True)
                ],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {path} and {args.out / f'samples-seed-{args.seeds[0]}.png'}")


if __name__ == "__main__":
    main()
