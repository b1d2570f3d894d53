"""Does a run on CUDA, with and without bf16, reach the CPU run's metrics within noise?

One prepared script for a GPU machine. It trains, all at once in separate processes:
ring8 over seeds on the CPU, on CUDA in fp32 and on CUDA under bf16 autocast (MLPs), and
the digits demo's conditional DCGAN (batch norm, convolutions) once on each. The CPU
seeds' spread is the noise a CUDA mean is compared with: it "matches" when it lies within
3 standard errors of the CPU mean, the errors of both added in quadrature. A single
process under torchrun then trains on CUDA through NCCL with SyncBatchNorm on.

    python benchmarks/gpu_check.py [--seeds 3] [--steps 12000] [--digits-steps 1500]
        [--out benchmarks/results]

A table goes to stdout and everything to OUT/gpu_check.json.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from results_file import write_results

import gankit
from gankit.metrics.intervals import mean_and_standard_error

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {
    "cpu": ["device=cpu"],
    "cuda": ["device=cuda"],
    "cuda-bf16": ["device=cuda", "precision=bf16"],
}
RING_METRICS = ("modes", "high_quality", "reverse_kl")
DIGITS_METRICS = ("frechet", "kid", "precision", "recall", "class_accuracy")


def train_one(overrides: list[str], config_file: Path | None = None) -> dict[str, Any]:
    """One run with ``overrides``; its summary and wall time."""
    with tempfile.TemporaryDirectory() as folder:
        config = gankit.load_config(config_file, [*overrides, "progress=false"])
        started = time.perf_counter()
        run = gankit.train(config, out=Path(folder) / "run")
        summary = run.summary()
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary


def torchrun_nccl(steps: int) -> dict[str, Any]:
    """One process under torchrun on CUDA: the NCCL backend and SyncBatchNorm path."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "1",
            "-m", "gankit.cli", "train", "--config", str(ROOT / "configs" / "digits.yaml"),
            "--out", f"{folder}/run", "device=cuda", "sync_batch_norm=true",
            f"steps={steps}", "progress=false",
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        result: dict[str, Any] = {
            "returncode": done.returncode,
            "seconds": round(time.perf_counter() - started, 1),
            "stderr_tail": done.stderr[-2000:],
        }
        summary = Path(folder) / "run" / "summary.json"
        if summary.is_file():
            result["summary"] = json.loads(summary.read_text())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12000, help="ring8 steps")
    parser.add_argument("--digits-steps", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_check: PyTorch sees no CUDA device; run this on a machine with a GPU")
    torch.set_num_threads(1)

    ring_jobs = {
        (name, seed): ([*extra, "data=ring8", f"seed={seed}", f"steps={args.steps}"], None)
        for name, extra in SETTINGS.items()
        for seed in range(args.seeds)
    }
    digits_config = ROOT / "configs" / "digits.yaml"
    digits_jobs = {
        name: ([*extra, f"steps={args.digits_steps}"], digits_config)
        for name, extra in SETTINGS.items()
    }
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "seeds": args.seeds,
        "steps": args.steps,
        "digits_steps": args.digits_steps,
    }
    context = multiprocessing.get_context("spawn")  # CUDA cannot live in a forked process
    with ProcessPoolExecutor(len(ring_jobs) + len(digits_jobs), mp_context=context) as pool:
        ring = {job: pool.submit(train_one, *spec) for job, spec in ring_jobs.items()}
        digits = {job: pool.submit(train_one, *spec) for job, spec in digits_jobs.items()}
        results["nccl"] = torchrun_nccl(args.digits_steps // 3)
        ring_runs = {job: _result(future) for job, future in ring.items()}
        results["digits"] = {job: _result(future) for job, future in digits.items()}

    results["ring8"] = {}
    print(f"ring8, {args.steps} steps, {args.seeds} seeds: mean +/- standard error")
    print("| setting | " + " | ".join(RING_METRICS) + " | s per run | matches the CPU |")
    print("|---" * (len(RING_METRICS) + 3) + "|")
    for name in SETTINGS:
        runs = [ring_runs[(name, seed)] for seed in range(args.seeds)]
        row = {"per_seed": runs}
        if all("error" not in run for run in runs):
            for key in (*RING_METRICS, "seconds"):
                row[key] = mean_and_standard_error([run[key] for run in runs])
        results["ring8"][name] = row
    cpu = results["ring8"]["cpu"]
    for name, row in results["ring8"].items():
        if "modes" not in row:
            print(f"| {name} | failed: {row['per_seed']} |")
            continue
        row["matches_cpu"] = all(
            abs(row[key][0] - cpu[key][0]) <= 3 * math.hypot(row[key][1], cpu[key][1]) + 1e-9
            for key in RING_METRICS
        )
        cells = [f"{row[key][0]:.4g} +/- {row[key][1]:.2g}" for key in RING_METRICS]
        print(f"| {name} | " + " | ".join(cells) + f" | {row['seconds'][0]:.0f} | "
              f"{row['matches_cpu']} |")  # fmt: skip

    print(f"\ndigits, conditional DCGAN, {args.digits_steps} steps, seed 0")
    print("| setting | " + " | ".join(DIGITS_METRICS) + " | s |")
    print("|---" * (len(DIGITS_METRICS) + 2) + "|")
    for name, summary in results["digits"].items():
        if "error" in summary:
            print(f"| {name} | failed: {summary['error']} |")
            continue
        cells = [f"{summary[key]:.4g}" for key in DIGITS_METRICS]
        print(f"| {name} | " + " | ".join(cells) + f" | {summary['seconds']:.0f} |")

    nccl = results["nccl"]
    print(f"\ntorchrun, 1 process, NCCL + SyncBatchNorm: exit {nccl['returncode']}, "
          f"{nccl['seconds']} s, frechet {nccl.get('summary', {}).get('frechet')}")  # fmt: skip
    write_results(args.out / "gpu_check.json", results)


def _result(future: Any) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as error:  # report a failed run and go on: the machine time is scarce
        return {"error": f"{type(error).__name__}: {error}"}


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
