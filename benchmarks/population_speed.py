"""Member-steps per second: S separate runs one after another against one population of S.

Both train the same S GANs (seeds 0..S-1) with the same work per step: gankit's own step
and its NaN/Inf check. ``--data ring8`` trains the default ring8 MLPs (batch norm in G, R1
every 4 D steps, EMA, a linear learning-rate decay), ``--data digits`` the digits defaults (a
class-conditional DCGAN with differentiable augmentation and R1), ``--data penguins`` (or
another table) the table defaults (CTGAN's conditional MLPs of 256 x 2, Gumbel-softmax heads,
dropout, packs of 10, batch 500, R1). Separately, each member is
a :class:`Trainer` taking its steps alone, one member after another; together, a
:class:`Population` steps all S at once.

    python benchmarks/population_speed.py [--data ring8,digits] [--sizes 1,4,8,16]
        [--steps 40] [--repeats 5] [--threads 1]

For each S and each torch thread count, the two contestants run ``repeats`` timed blocks,
interleaved (separate, population, separate, ...); a rate is the best block's, as timeit
advises (slower blocks measure the other work on a shared machine). The ratio compares the
population with the separate runs at the same thread count, and ``best`` compares the fastest
of each over thread counts. gankit trains on one thread by default (``threads``); with
``--threads 1,2`` both are measured, though two threads on a machine that others keep busy
measure mostly the others.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
from results_file import write_results

from gankit.config import load_config
from gankit.data import load_data
from gankit.training.engine import build_trainer
from gankit.training.population import Population, member_configs, own_stream


def separate(data_name: str, size: int) -> Callable[[int], None]:
    config = load_config(base={"data": data_name, "population.seeds": size, "progress": False})
    data = load_data(config)
    trainers = [build_trainer(member, data) for member in member_configs(config)]

    def run(steps: int) -> None:
        for trainer in trainers:  # one run after another
            for _ in range(steps):
                trainer.check_finite(trainer.train_step())

    return run


def together(data_name: str, size: int) -> Callable[[int], None]:
    config = load_config(base={"data": data_name, "population.seeds": size, "progress": False})
    data = load_data(config)
    trainers = [build_trainer(member, data) for member in member_configs(config)]
    population = Population(trainers, [own_stream(trainer.device) for trainer in trainers])

    def run(steps: int) -> None:
        for _ in range(steps):
            assert all(population.finite(population.train_step()))

    return run


def best_rate(run: Callable[[int], None], member_steps: int, steps: int) -> Callable[[], float]:
    rates: list[float] = []

    def block() -> float:
        started = time.perf_counter()
        run(steps)
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
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    thread_counts = [int(count) for count in args.threads.split(",")]

    rows = []
    for data_name, size in itertools.product(args.data.split(","), sizes):
        contestants = {
            "separate": separate(data_name, size),
            "population": together(data_name, size),
        }
        rates: dict[int, dict[str, float]] = {}
        for threads in thread_counts:
            torch.set_num_threads(threads)
            for run in contestants.values():
                run(2)  # warm-up: first-call allocations, kernel selection
            blocks = {
                name: best_rate(run, size * args.steps, args.steps)
                for name, run in contestants.items()
            }
            for _ in range(args.repeats):
                measured = {name: block() for name, block in blocks.items()}
            rates[threads] = measured
            row = {
                "data": data_name,
                "members": size,
                "threads": threads,
                "separate": round(measured["separate"], 1),
                "population": round(measured["population"], 1),
                "ratio": round(measured["population"] / measured["separate"], 2),
            }
            rows.append(row)
            print(
                f"{data_name:<7} S={size:<3d} threads={threads}  separate {row['separate']:7.1f}  "
                f"population {row['population']:7.1f} member-steps/s  x{row['ratio']:.2f}",
                flush=True,
            )
        fastest_separate = max(r["separate"] for r in rates.values())
        fastest_population = max(r["population"] for r in rates.values())
        rows.append(
            {
                "data": data_name,
                "members": size,
                "threads": "best",
                "separate": round(fastest_separate, 1),
                "population": round(fastest_population, 1),
                "ratio": round(fastest_population / fastest_separate, 2),
            }
        )

    print("\n| data | S | torch threads | separate runs (member-steps/s) | population | ratio |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['data']} | {row['members']} | {row['threads']} | {row['separate']:.0f} | "
            f"{row['population']:.0f} | {row['ratio']:.2f}x |"
        )
    result = {
        "benchmark": "population_speed",
        "models": "the defaults of each data set: ring8 MLPs, digits conditional DCGAN",
        "steps_per_block": args.steps,
        "repeats": args.repeats,
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"torch threads at the end, torch {torch.__version__}",
        "rows": rows,
    }
    write_results(args.out / "population_speed.json", result)


if __name__ == "__main__":
    main()
