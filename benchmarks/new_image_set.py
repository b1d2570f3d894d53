"""The image defaults on a labelled set gankit has never been tuned on: simple shapes.

Draws a small labelled image set (16x16 grey, four classes: square, disc, triangle, cross;
random size, position and brightness, light pixel noise; 150 images a class, so 480 to train
on after the 20% held out), trains ``gankit train data=shapes.npz`` with nothing but the
defaults (and any KEY=VALUE given), and reports how often the set's own classifier (the
feature network of the metrics) names the class of G's samples, beside how often it names
the class of held-out real images: the defaults work when the two are close.

    python benchmarks/new_image_set.py [--out DIR] [--per-class 150] [--size 16] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import gankit
from gankit.config import load_config

CLASSES = ("square", "disc", "triangle", "cross")


def draw_shape(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One grey image (size, size) in 0..255 of ``kind``, drawn at 4x and downsampled."""
    scale = 4
    canvas = Image.new("L", (size * scale, size * scale), 0)
    pen = ImageDraw.Draw(canvas)
    side = rng.uniform(0.45, 0.8) * size * scale
    cx, cy = (rng.uniform(side / 2, size * scale - side / 2) for _ in range(2))
    ink = int(rng.integers(160, 256))
    half = side / 2
    if kind == "square":
        pen.rectangle([cx - half, cy - half, cx + half, cy + half], fill=ink)
    elif kind == "disc":
        pen.ellipse([cx - half, cy - half, cx + half, cy + half], fill=ink)
    elif kind == "triangle":
        pen.polygon([(cx, cy - half), (cx - half, cy + half), (cx + half, cy + half)], fill=ink)
    else:
        bar = side / 5
        pen.rectangle([cx - half, cy - bar, cx + half, cy + bar], fill=ink)
        pen.rectangle([cx - bar, cy - half, cx + bar, cy + half], fill=ink)
    image = np.asarray(canvas.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float64)
    return np.clip(image + rng.normal(0, 8, image.shape), 0, 255).round().astype(np.uint8)


def make_shapes(per_class: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of each shape, shuffled: (n, size, size) and labels 0..3."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), per_class)
    rng.shuffle(labels)
    images = np.stack([draw_shape(CLASSES[label], size, rng) for label in labels])
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/new_image_set"))
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE settings over the defaults")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    images, labels = make_shapes(args.per_class, args.size)
    path = args.out / "shapes.npz"
    np.savez(path, images=images, labels=labels)  # classes 0-3: CLASSES in order
    config = load_config(overrides=[f"data={path.resolve()}", *args.overrides])
    started = time.perf_counter()
    run = gankit.train(config, out=args.out / "run", overwrite=True)
    seconds = time.perf_counter() - started
    summary = run.summary()
    result = {
        "benchmark": "new_image_set",
        "classes": list(CLASSES),
        "images": len(images),
        "settings": args.overrides,
        "steps": summary["step"],
        "seconds": round(seconds, 1),
        "class_accuracy_of_samples": summary["class_accuracy"],
        "classifier_accuracy_on_heldout": summary["feature_accuracy"],
        "per_class": {
            name: summary[f"class_accuracy/{index}"] for index, name in enumerate(CLASSES)
        },
        "early_stop": summary.get("early_stop"),
    }
    print(
        f"shapes ({len(images)} images, {args.size}x{args.size}): samples recognised as their "
        f"class {result['class_accuracy_of_samples']:.3f} of the time, held-out real images "
        f"{result['classifier_accuracy_on_heldout']:.3f}; {result['steps']} steps in "
        f"{seconds:.0f} s"
    )
    (args.out / "new_image_set.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
