"""Training steps per second: gankit's Trainer against a plain-PyTorch loop of the same GAN.

Both do the same work per step: one D step on a fresh real minibatch and fresh noise, then
one G step on fresh noise, with the same MLPs, batch, data and Adam settings. gankit runs
its whole loop, ``Trainer.fit`` (the per-step NaN/Inf guard and the loss bookkeeping
included; no evaluation or checkpoints). The plain loop is run twice, with PyTorch's
default Adam and with the fused Adam that gankit uses.

    python benchmarks/step_speed.py [--steps 500] [--repeats 9] [--threads 1]

Each contestant runs ``repeats`` timed blocks of ``steps`` steps, interleaved with the
others; its rate is the best block's, as timeit advises: slower blocks measure the other
work on the machine, not the loop.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import torch
from torch import nn
from torch.nn.functional import softplus

from gankit.config import Config, load_config
from gankit.data import load_data
from gankit.nets import build_discriminator, build_generator
from gankit.objectives import OBJECTIVES
from gankit.training.engine import Trainer

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


def steps_per_second(run: Callable[[int], None], steps: int) -> float:
    started = time.perf_counter()
    run(steps)
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()

    torch.set_num_threads(args.threads)  # gankit trains on `threads` (default 1) threads too
    rows = []
    for hidden, batch in (([128] * 3, 128), ([128] * 3, 256), ([256] * 3, 256)):
        config = load_config(
            base={
                **SETTINGS,
                "batch_size": batch,
                "threads": args.threads,
                "generator.hidden": hidden,
                "discriminator.hidden": hidden,
            }
        )
        rates: dict[str, list[float]] = {"gankit": [], "plain": [], "plain_fused": []}
        contestants = {
            "gankit": gankit_steps(config),
            "plain": plain_steps(config, fused=False),
            "plain_fused": plain_steps(config, fused=True),
        }
        for run in contestants.values():
            run(50)  # warm-up
        for _ in range(args.repeats):  # interleaved, so drift in load hits all alike
            for name, run in contestants.items():
                rates[name].append(steps_per_second(run, args.steps))
        row = {"hidden": "x".join(map(str, hidden)), "batch": config.batch_size}
        row |= {f"{name}_steps_per_s": round(max(r), 1) for name, r in rates.items()}
        row["ratio_vs_plain"] = round(row["gankit_steps_per_s"] / row["plain_steps_per_s"], 3)
        row["ratio_vs_plain_fused"] = round(
            row["gankit_steps_per_s"] / row["plain_fused_steps_per_s"], 3
        )
        rows.append(row)

    header = [
        "hidden",
        "batch",
        "gankit_steps_per_s",
        "plain_steps_per_s",
        "plain_fused_steps_per_s",
        "ratio_vs_plain",
        "ratio_vs_plain_fused",
    ]
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[key]) for key in header))
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "step_speed",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "steps": args.steps,
        "repeats": args.repeats,
        "rows": rows,
    }
    (args.out / "step_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out / 'step_speed.json'}")


if __name__ == "__main__":
    main()
