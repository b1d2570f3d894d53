"""How fast the command line answers when there is nothing to train: ``gankit --help``, a
mistyped setting, ``import gankit``, against a bare ``python -c pass`` and ``import torch``.

    python benchmarks/startup.py [--repeats 7]

Each command runs in a fresh interpreter ``repeats`` times, interleaved with the others; its
time is the best run's (slower runs measure the other work on the machine). Writes
benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

GANKIT = [sys.executable, "-m", "gankit.cli"]
COMMANDS = {
    "python -c pass (the floor)": [sys.executable, "-c", "pass"],
    "gankit --help": [*GANKIT, "--help"],
    "gankit train stepz=10 (a typo: exit 2)": [*GANKIT, "train", "stepz=10"],
    "python -c 'import gankit'": [sys.executable, "-c", "import gankit"],
    "python -c 'import torch' (for scale)": [sys.executable, "-c", "import torch"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/startup.json"))
    args = parser.parse_args()

    best = dict.fromkeys(COMMANDS, float("inf"))
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=False)
            best[name] = min(best[name], time.perf_counter() - started)

    floor = best["python -c pass (the floor)"]
    print(f"{'command':<42} {'seconds':>8} {'over the floor':>15}")
    for name, seconds in best.items():
        print(f"{name:<42} {seconds:8.3f} {seconds - floor:15.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "repeats": args.repeats,
        "seconds": best,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
