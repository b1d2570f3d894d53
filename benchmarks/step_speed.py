"""Training steps per second: gankit's Trainer against a plain-PyTorch loop of the same GAN.

Both do the same work per step: one D step on a fresh real minibatch and fresh noise, then
one G step on fresh noise, with the same networks, batch, data and Adam settings. gankit runs
its whole loop, ``Trainer.fit`` (the per-step NaN/Inf guard and the loss bookkeeping
included; no evaluation or checkpoints).

Vector rows: MLPs on ring8. The plain loop is run twice, with PyTorch's default Adam and
with the fused Adam that gankit uses.

Image rows: the class-conditional DCGAN gankit trains on MNIST by default (28x28, batch 64,
width 32, noise 32, non-saturating loss, lazy R1 of 0.1 every 4th D step, no EMA, constant
learning rate), without augmentation, with DiffAugment's color, translation and cutout, and
without augmentation in ``channels_last`` memory order (both loops' networks converted).
The plain loop is the textbook DCGAN loop written out by hand around the very same networks
(``gankit.nets``, same seed): sample a real batch and its labels, a D step with softplus
losses, a G step, Adam. To compare the loops and not the maths it does the same work as
gankit: the same lazy R1 (gamma * 4 on every 4th D step, the gradient penalty of
``gankit.objectives.r1_penalty`` written out), the same augmentation functions from
``gankit.diffaugment`` on everything D sees, fused Adam (PyTorch's ``fused=True``), and D's
``requires_grad`` switched off during G's step (the CycleGAN/pix2pix idiom; gankit's
``backward(inputs=...)`` saves the same work).

    python benchmarks/step_speed.py [--steps 500] [--repeats 9] [--threads 1]
        [--image-steps 8] [--image-repeats 12] [--only vectors|images]

Each contestant runs ``repeats`` timed blocks of ``steps`` steps, interleaved with the
others; its rate is the best block's, as timeit advises: slower blocks measure the other
work on the machine, not the loop; the order alternates from block to block. Image rows
also give the rates per second of the process's CPU time, the steadier measure on a shared
machine (see :func:`interleaved_rates`). ``--threads`` sets torch's threads, and gankit's.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import torch
from results_file import write_results
from torch import nn
from torch.nn.functional import softplus

from gankit.config import Config, load_config
from gankit.data import class_count, load_data
from gankit.diffaugment import POLICIES
from gankit.nets import build_discriminator, build_generator
from gankit.objectives import OBJECTIVES
from gankit.training.engine import Trainer, build_trainer

SETTINGS = {
    "data": "ring8",
    "ema": 0.0,
    "lr_decay": "constant",
    "r1": 0.0,
    "progress": False,
    "generator.activation": "leaky_relu",
    "generator.batch_norm": False,
    "generator.lr": 2e-4,
    "discriminator.lr": 2e-4,
}
IMAGE_SETTINGS = {
    # gankit's defaults for MNIST, spelled out, but for EMA and the learning-rate decay
    "data": "mnist",
    "model": "dcgan",
    "conditional": True,
    "batch_size": 64,
    "noise.dim": 32,
    "generator.width": 32,
    "discriminator.width": 32,
    "loss": "nonsaturating",
    "r1": 0.1,
    "r1_every": 4,
    "ema": 0.0,
    "lr_decay": "constant",
    "progress": False,
}
AUGMENT_POLICY = ["color", "translation", "cutout"]


def gankit_steps(config: Config) -> Callable[[int], None]:
    torch.manual_seed(0)
    data = load_data(config)
    trainer = Trainer(
        config,
        data,
        build_generator(config, data.dim),
        build_discriminator(config, data.dim),
        OBJECTIVES[config.loss],
    )
    return lambda steps: trainer.fit(trainer.step + steps)


def plain_steps(config: Config, fused: bool) -> Callable[[int], None]:
    """The textbook loop, written out with nothing from gankit but the data sampler."""
    torch.manual_seed(0)
    data = load_data(config)

    def mlp(widths: list[int]) -> nn.Sequential:
        layers = [m for a, b in pairwise(widths[:-1]) for m in (nn.Linear(a, b), nn.LeakyReLU(0.2))]
        return nn.Sequential(*layers, nn.Linear(widths[-2], widths[-1]))

    G = mlp([config.noise.dim, *config.generator.hidden, data.dim])
    D = mlp([data.dim, *config.discriminator.hidden, 1])
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=fused or None)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=fused or None)
    rng = torch.Generator().manual_seed(0)
    batch, noise_dim = config.batch_size, config.noise.dim

    def step() -> None:
        real = data.sample(batch, rng)
        fake = G(torch.randn(batch, noise_dim)).detach()
        loss_d = softplus(-D(real)).mean() + softplus(D(fake)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = softplus(-D(G(torch.randn(batch, noise_dim)))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    def run(count: int) -> None:
        for _ in range(count):
            step()

    return run


def gankit_image_steps(config: Config) -> Callable[[int], None]:
    trainer = build_trainer(config, load_data(config))
    return lambda steps: trainer.fit(trainer.step + steps)


def plain_image_steps(config: Config) -> Callable[[int], None]:
    """The textbook conditional DCGAN loop around gankit's networks (see the module's doc)."""
    data = load_data(config)
    torch.manual_seed(config.seed)
    classes = class_count(config, data)
    layout = torch.channels_last if config.channels_last else torch.preserve_format
    G = build_generator(config, data.shape, classes).to(memory_format=layout)
    D = build_discriminator(config, data.shape, classes).to(memory_format=layout)
    opt_g = torch.optim.Adam(
        G.parameters(), lr=config.generator.lr, betas=config.generator.betas, fused=True
    )
    opt_d = torch.optim.Adam(
        D.parameters(), lr=config.discriminator.lr, betas=config.discriminator.betas, fused=True
    )
    augmentations = [f for name in config.augment.policy for f in POLICIES[name]]
    images, labels = data.images, data.labels
    rng = torch.Generator().manual_seed(0)
    batch, noise_dim = config.batch_size, config.noise.dim
    gamma, every = config.r1, config.r1_every
    d_steps = 0

    def discriminate(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for augment in augmentations:
            x = augment(x, rng)
        return D(x, y)

    def step() -> None:
        nonlocal d_steps
        regularize = gamma > 0 and d_steps % every == 0
        d_steps += 1
        rows = torch.randint(len(images), (batch,), generator=rng)
        real, y = images[rows].requires_grad_(regularize), labels[rows]
        with torch.no_grad():
            fake = G(torch.randn(batch, noise_dim, generator=rng), y)
        real_logits = discriminate(real, y)
        loss_d = softplus(-real_logits).mean() + softplus(discriminate(fake, y)).mean()
        if regularize:
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            loss_d = loss_d + gamma * every * 0.5 * grad.square().flatten(1).sum(1).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        y = labels[torch.randint(len(labels), (batch,), generator=rng)]
        D.requires_grad_(False)
        loss_g = softplus(-discriminate(G(torch.randn(batch, noise_dim, generator=rng), y), y))
        opt_g.zero_grad()
        loss_g.mean().backward()
        opt_g.step()
        D.requires_grad_(True)

    def run(count: int) -> None:
        for _ in range(count):
            step()

    return run


def steps_per_second(run: Callable[[int], None], steps: int) -> tuple[float, float]:
    """Steps per second of wall-clock time, and per second of this process's CPU time."""
    started, started_cpu = time.perf_counter(), time.process_time()
    run(steps)
    return steps / (time.perf_counter() - started), steps / (time.process_time() - started_cpu)


def interleaved_rates(
    contestants: dict[str, Callable[[int], None]], steps: int, repeats: int, warmup: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Each contestant's best rate (steps/s) over ``repeats`` blocks, the blocks interleaved,
    in wall-clock time and in CPU time.

    CPU time leaves out the time the process waits for a core, so on a busy machine its
    ratio is the steadier; wall-clock time also counts the time threads wait for each other.
    """
    walls: dict[str, list[float]] = {name: [] for name in contestants}
    cpus: dict[str, list[float]] = {name: [] for name in contestants}
    for run in contestants.values():
        run(warmup)
    for repeat in range(repeats):  # interleaved, so drift in load hits all alike
        order = list(contestants.items())
        for name, run in order if repeat % 2 == 0 else order[::-1]:
            wall, cpu = steps_per_second(run, steps)
            walls[name].append(wall)
            cpus[name].append(cpu)
    best = {name: max(r) for name, r in walls.items()}
    return best, {name: max(r) for name, r in cpus.items()}


def vector_rows(threads: int, steps: int, repeats: int) -> list[dict]:
    rows = []
    for hidden, batch in (([128] * 3, 128), ([128] * 3, 256), ([256] * 3, 256)):
        config = load_config(
            base={
                **SETTINGS,
                "batch_size": batch,
                "threads": threads,
                "generator.hidden": hidden,
                "discriminator.hidden": hidden,
            }
        )
        contestants = {
            "gankit": gankit_steps(config),
            "plain": plain_steps(config, fused=False),
            "plain_fused": plain_steps(config, fused=True),
        }
        rates, _ = interleaved_rates(contestants, steps, repeats, warmup=50)
        row = {"hidden": "x".join(map(str, hidden)), "batch": config.batch_size}
        row |= {f"{name}_steps_per_s": round(rate, 1) for name, rate in rates.items()}
        row["ratio_vs_plain"] = round(row["gankit_steps_per_s"] / row["plain_steps_per_s"], 3)
        row["ratio_vs_plain_fused"] = round(
            row["gankit_steps_per_s"] / row["plain_fused_steps_per_s"], 3
        )
        rows.append(row)
    return rows


def image_rows(threads: int, steps: int, repeats: int) -> list[dict]:
    rows = []
    for policy, channels_last in (([], False), (AUGMENT_POLICY, False), ([], True)):
        config = load_config(
            base={
                **IMAGE_SETTINGS,
                "threads": threads,
                "augment.policy": policy,
                "channels_last": channels_last,
            }
        )
        contestants = {"gankit": gankit_image_steps(config), "plain": plain_image_steps(config)}
        rates, cpu_rates = interleaved_rates(contestants, steps, repeats, warmup=8)
        batch = config.batch_size
        row = {"augment": ",".join(policy) or "none", "channels_last": channels_last}
        row["batch"] = batch
        row |= {f"{name}_images_per_s": round(rate * batch, 1) for name, rate in rates.items()}
        row["ratio_vs_plain"] = round(rates["gankit"] / rates["plain"], 3)
        row |= {
            f"{name}_images_per_cpu_s": round(rate * batch, 1) for name, rate in cpu_rates.items()
        }
        row["cpu_ratio_vs_plain"] = round(cpu_rates["gankit"] / cpu_rates["plain"], 3)
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    header = list(rows[0])
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[key]) for key in header))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="steps per block, vector rows")
    parser.add_argument("--repeats", type=int, default=9, help="blocks, vector rows")
    parser.add_argument("--image-steps", type=int, default=8, help="steps per block, images")
    parser.add_argument("--image-repeats", type=int, default=12, help="blocks, image rows")
    parser.add_argument("--only", choices=["vectors", "images"], help="run one kind of rows")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)  # gankit trains on `threads` (default 1) threads too
    result = {
        "benchmark": "step_speed",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
    }
    if args.only != "images":
        rows = vector_rows(args.threads, args.steps, args.repeats)
        print_table(rows)
        result |= {"steps": args.steps, "repeats": args.repeats, "rows": rows}
    if args.only != "vectors":
        rows = image_rows(args.threads, args.image_steps, args.image_repeats)
        print_table(rows)
        result |= {
            "image_steps": args.image_steps,
            "image_repeats": args.image_repeats,
            "image_rows": rows,
        }
    name = "step_speed.json" if args.only is None else f"step_speed_{args.only}.json"
    write_results(args.out / name, result)


if __name__ == "__main__":
    main()
