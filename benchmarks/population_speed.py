"""Member-steps per second: S separate runs one after another against one population of S.

Both train the same S GANs (seeds 0..S-1) with the same work per step: gankit's own step
and its NaN/Inf check. ``--data ring8`` trains the default ring8 MLPs (batch norm in G, R1
every 4 D steps, EMA, a linear learning-rate decay), ``--data digits`` the digits defaults (a
class-conditional DCGAN with differentiable augmentation and R1), ``--data penguins`` (or
another table) the table defaults (CTGAN's conditional MLPs of 256 x 2, Gumbel-softmax heads,
dropout, packs of 10, batch 500, R1). Separately, each member is
a :class:`Trainer` taking its steps alone, one member after another; together, a
:class:`Population` steps all S at once, its members drawing their data and noise each from
its own stream (``--draws own``: each its single run's draws) or all at once from the
population's (``--draws shared``; ``auto``, gankit's default, is shared on CUDA, own on the
CPU).

    python benchmarks/population_speed.py [--data ring8,digits] [--sizes 1,4,8,16]
        [--steps 40] [--repeats 5] [--threads 1] [--device auto] [--draws auto]

For each S and each torch thread count, the contestants run ``repeats`` timed blocks,
interleaved (separate, population, separate, ...); a rate is the best block's, as timeit
advises (slower blocks measure the other work on a shared machine). The ratio compares the
population with the separate runs at the same thread count, and ``best`` compares the fastest
of each over thread counts. gankit trains on one thread by default (``threads``); with
``--threads 1,2`` both are measured, though two threads on a machine that others keep busy
measure mostly the others. On CUDA a block ends with a synchronisation, so that it times the
work and not its queueing. Each row also gives the tensor operations of one run's step and of
the population's (counted once, after the warm-up): on a GPU each that computes is a kernel
launch, which is what a small GAN's step costs there.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from results_file import write_results
from torch.utils._python_dispatch import TorchDispatchMode

from gankit.config import Config, load_config
from gankit.data import load_data
from gankit.training.device import resolve_device
from gankit.training.engine import build_trainer
from gankit.training.population import Population, member_configs, own_stream


def population_config(data_name: str, size: int, device: str) -> Config:
    settings = {"data": data_name, "population.seeds": size, "progress": False, "device": device}
    return load_config(base=settings)


def separate(data_name: str, size: int, device: str) -> Callable[[int], None]:
    config = population_config(data_name, size, device)
    data = load_data(config)
    trainers = [build_trainer(member, data) for member in member_configs(config)]

    def run(steps: int) -> None:
        for trainer in trainers:  # one run after another
            for _ in range(steps):
                trainer.check_finite(trainer.train_step())

    return run


def together(data_name: str, size: int, device: str, draws: str) -> Callable[[int], None]:
    config = population_config(data_name, size, device)
    data = load_data(config)
    trainers = [build_trainer(member, data) for member in member_configs(config)]
    streams = [own_stream(trainer.device) for trainer in trainers]
    population = Population(trainers, streams, draws)

    def run(steps: int) -> None:
        for _ in range(steps):
            assert all(population.finite(population.train_step()))

    return run


class CountOperations(TorchDispatchMode):
    """Counts the tensor operations run under it: on a GPU, each one that computes is a kernel
    launch, and for these small networks launches are what a step costs."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def operations(run: Callable[[int], None]) -> int:
    """The tensor operations of one step of ``run`` (each member's, for separate runs)."""
    with CountOperations() as counter:
        run(1)
    return counter.count


def best_rate(run: Callable[[int], None], member_steps: int, steps: int) -> Callable[[], float]:
    rates: list[float] = []

    def block() -> float:
        started = time.perf_counter()
        run(steps)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        rates.append(member_steps / (time.perf_counter() - started))
        return max(rates)

    return block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ring8,digits", help="comma-separated data names")
    parser.add_argument("--sizes", default="1,4,8,16")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="1")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--draws", default="auto", help="comma-separated: auto, own, shared")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    thread_counts = [int(count) for count in args.threads.split(",")]
    draws = args.draws.split(",")

    rows = []
    for data_name, size in itertools.product(args.data.split(","), sizes):
        contestants = {"separate": separate(data_name, size, args.device)}
        for mode in draws:
            contestants[f"population, {mode} draws"] = together(data_name, size, args.device, mode)
        rates: dict[int, dict[str, float]] = {}
        for threads in thread_counts:
            torch.set_num_threads(threads)
            for run in contestants.values():
                run(2)  # warm-up: first-call allocations, kernel selection
            counts = {name: operations(run) for name, run in contestants.items()}
            counts["separate"] //= size  # per member-step
            blocks = {
                name: best_rate(run, size * args.steps, args.steps)
                for name, run in contestants.items()
            }
            for _ in range(args.repeats):
                measured = {name: block() for name, block in blocks.items()}
            rates[threads] = measured
            rows.extend(_rows(data_name, size, threads, measured, counts))
            for row in rows[-len(draws) :]:
                print(
                    f"{data_name:<7} S={size:<3d} threads={threads}  separate "
                    f"{row['separate']:8.1f}  {row['population']:8.1f} member-steps/s "
                    f"({row['draws']} draws)  x{row['ratio']:.2f}",
                    flush=True,
                )
        best = {name: max(r[name] for r in rates.values()) for name in contestants}
        rows.extend(_rows(data_name, size, "best", best, counts))

    print(
        "\n| data | S | torch threads | draws | separate runs | population | ratio "
        "| operations a step: one run | population |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['data']} | {row['members']} | {row['threads']} | {row['draws']} | "
            f"{row['separate']:.0f} | {row['population']:.0f} | {row['ratio']:.2f}x | "
            f"{row['separate_operations']} | {row['population_operations']} |"
        )
    device = resolve_device(args.device, "fp32")
    processor = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine()
    )
    result = {
        "benchmark": "population_speed",
        "models": "the defaults of each data set: ring8 MLPs, digits conditional DCGAN, tables",
        "steps_per_block": args.steps,
        "repeats": args.repeats,
        "machine": f"{processor}, {torch.get_num_threads()} torch threads at the end, "
        f"torch {torch.__version__}",
        "rows": rows,
    }
    write_results(args.out / "population_speed.json", result)


def _rows(
    data_name: str,
    size: int,
    threads: int | str,
    rates: dict[str, float],
    counts: dict[str, int],
) -> list[dict[str, Any]]:
    """One row per population contestant, beside the separate runs' rate; the operations of a
    separate run's step and of the population's."""
    return [
        {
            "data": data_name,
            "members": size,
            "threads": threads,
            "draws": name.split(", ")[1].removesuffix(" draws"),
            "separate": round(rates["separate"], 1),
            "population": round(rate, 1),
            "ratio": round(rate / rates["separate"], 2),
            "separate_operations": counts["separate"],
            "population_operations": counts[name],
        }
        for name, rate in rates.items()
        if name != "separate"
    ]


if __name__ == "__main__":
    main()
