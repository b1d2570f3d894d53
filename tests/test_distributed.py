"""Training under torchrun: two processes take the steps of one on the same global minibatch."""

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import gankit
from gankit.cli import main
from gankit.data.table_transformer import TableTransformer
from gankit.data.tables import describe_column
from gankit.errors import ConfigError, GankitError
from gankit.training.distributed import SINGLE, World

# No batch norm: with it, each process would normalise by its own half of the batch. Lazy R1
# (every 4th D step), the EMA, k = 2 D steps and packing all run; checkpoints at 0, 10, 20.
TINY = [
    "steps=20",
    "batch_size=32",
    "pack=2",
    "d_steps=2",
    "ema=0.9",
    "log_every=5",
    "eval_every=20",
    "eval_samples=200",
    "checkpoint_every=10",
    "threads=1",
    "progress=false",
    "tensorboard=false",
    "generator.batch_norm=false",
    "generator.hidden=16,16",
    "discriminator.hidden=16,16",
]
TIMEOUT = 120  # seconds for one torchrun; a run here takes about 12 s on a busy 2-core machine

# A table run in 2 processes, each with its own Python: D packs 10 rows of each process's 50, G
# has batch norm (each process normalises by its own half, so no one-process run to equal).
# Rank 1 fits the table's mixtures on 40 rows, a fit unlike rank 0's, as float round-off on
# another machine could make it: every process must still train on rank 0's encoding.
TABLE_RUN = """
import hashlib, json, sys
import torch.distributed as dist
import gankit

dist.init_process_group("gloo")
rank = dist.get_rank()
settings = {
    "data": "penguins", "steps": 20, "batch_size": 100, "log_every": 10, "eval_every": 20,
    "eval_samples": 200, "checkpoint_every": 10, "threads": 1, "progress": False,
    "tensorboard": False, "generator.hidden": [32, 32], "discriminator.hidden": [32, 32],
    "table.fit_rows": 5000 if rank == 0 else 40,
}
run = gankit.train(settings, out=sys.argv[1])
weights = hashlib.sha256()
for net in (run.generator, run.discriminator):  # parameters: the batch-norm buffers are each one's
    for parameter in net.parameters():
        weights.update(parameter.detach().numpy().tobytes())
seen = [None] * dist.get_world_size()
dist.all_gather_object(seen, {"data": run.data.fingerprint(), "weights": weights.hexdigest()})
if rank == 0:
    with open(sys.argv[2], "w") as handle:
        json.dump(seen, handle)
dist.barrier()  # leave together, as gankit does: gloo torn down mid-talk aborts at exit
dist.destroy_process_group()
"""


def torchrun(*args: str) -> None:
    """``gankit train ARGS`` in 2 CPU processes under torchrun; fails with their output."""
    launch("-m", "gankit.cli", "train", *args)


def launch(*program: str) -> None:
    """``python PROGRAM`` in 2 CPU processes under torchrun; fails with their output."""
    # --standalone: torchrun's rendezvous binds a free port itself, so parallel runs never clash.
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", "2", *program]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    # A session of its own, so that a timeout kills torchrun and both of its workers.
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"torchrun took more than {TIMEOUT} s:\n{output}")
    assert process.returncode == 0, f"torchrun exited with {process.returncode}:\n{output}"


def assert_same_run(expected, actual) -> None:
    """Same weights, EMA, optimizer moments and random streams after the last step, and logs."""
    for name in ("model.safetensors", "checkpoints/step-00000020.safetensors"):
        want, got = load_file(expected / name), load_file(actual / name)
        assert want.keys() == got.keys(), name
        for key in want:
            if want[key].dtype == torch.uint8:  # the data and noise streams: drawn alike
                assert torch.equal(want[key], got[key]), f"{name}: {key}"
            else:
                torch.testing.assert_close(got[key], want[key], atol=1e-5, rtol=1e-5, msg=key)
    want, got = (
        [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for run in (expected, actual)
    )
    assert [r["step"] for r in got] == [r["step"] for r in want] == [5, 10, 15, 20]
    for want_record, got_record in zip(want, got, strict=True):
        assert got_record.keys() == want_record.keys()
        for key, value in want_record.items():
            close = pytest.approx(value, rel=1e-4, abs=1e-5) if isinstance(value, float) else value
            assert got_record[key] == close, f"step {want_record['step']}: {key}"


def cut_back_to_step_10(run, copy) -> None:
    """``copy``: ``run`` as if it had been killed between its checkpoints of steps 10 and 20."""
    shutil.copytree(run, copy)
    for name in ("checkpoints/step-00000020.safetensors", "model.safetensors", "summary.json"):
        (copy / name).unlink()


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    run = tmp_path_factory.mktemp("single") / "run"
    assert main(["train", "--out", str(run), *TINY]) == 0
    return run


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    run = tmp_path_factory.mktemp("two") / "run"
    torchrun("--out", str(run), *TINY)
    return run


def test_two_processes_take_the_steps_of_one(single, two) -> None:
    assert_same_run(single, two)
    assert {p.name for p in two.iterdir()} == {p.name for p in single.iterdir()}


def test_a_one_process_checkpoint_goes_on_in_two_processes(single, tmp_path) -> None:
    run = tmp_path / "resumed"
    cut_back_to_step_10(single, run)
    torchrun("--resume", str(run))
    assert_same_run(single, run)


def test_a_two_process_checkpoint_goes_on_in_one_process(single, two, tmp_path) -> None:
    run = tmp_path / "resumed"
    cut_back_to_step_10(two, run)
    assert main(["train", "--resume", str(run)]) == 0
    assert_same_run(single, run)


def test_a_table_trains_in_two_processes_on_rank_0s_encoding(tmp_path) -> None:
    script, run, seen = tmp_path / "table_run.py", tmp_path / "run", tmp_path / "seen.json"
    script.write_text(TABLE_RUN)
    launch(str(script), str(run), str(seen))
    ranks = json.loads(seen.read_text())
    assert ranks[0] == ranks[1]  # the same encoded rows, and the same weights after 20 steps
    assert {p.name for p in run.iterdir()} == {
        "config.yaml",
        "metrics.jsonl",
        "summary.json",
        "model.safetensors",
        "checkpoints",
        "losses.png",
        "columns.png",
        "associations.png",
        "nearest_rows.csv",
    }
    summary = json.loads((run / "summary.json").read_text())
    assert 0 < summary["quality"] <= 1 and summary["train_rows"] == 275
    assert {"dcr_ratio", "efficacy/synthetic/accuracy", "unseen_categories"} <= set(summary)
    gentoo = gankit.load(run).sample(50, condition={"species": "Gentoo"})
    assert set(gentoo["species"]) == {"Gentoo"}


def test_a_tables_fit_crosses_to_another_process_exactly() -> None:
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=200), "c": ["a", "b"] * 100})
    columns = [
        describe_column(frame["x"], "continuous"),
        describe_column(frame["c"], "categorical"),
    ]
    fitted = TableTransformer().fit(frame, columns, modes=10, fit_rows=5000, seed=0)
    received = TableTransformer.from_json(fitted.to_json())
    assert np.array_equal(received.transform(frame), fitted.transform(frame))
    assert received.state()[1] == fitted.state()[1]


def test_each_process_keeps_its_own_contiguous_slice() -> None:
    batch = torch.arange(12.0).reshape(6, 2)
    slices = [World(rank, 3).shard(batch) for rank in range(3)]
    assert torch.equal(torch.cat(slices), batch)
    assert [len(s) for s in slices] == [2, 2, 2]
    assert SINGLE.shard(batch) is batch


def test_the_batch_must_split_evenly_into_whole_packs() -> None:
    World(0, 4).check_batch_size(64, pack=2)
    with pytest.raises(ConfigError, match=r"batch_size \(63\) must be a multiple .* \(2\)"):
        World(0, 2).check_batch_size(63, pack=1)
    with pytest.raises(ConfigError, match=r"processes \(4\) times pack \(4\)"):
        World(1, 4).check_batch_size(40, pack=4)
    # a table's defaults (500 rows, packs of 10) on 3 processes: the nearest batch that splits
    with pytest.raises(ConfigError, match=r"times pack \(10\).*; set e.g. batch_size=510$"):
        World(0, 3).check_batch_size(500, pack=10)


def test_one_process_is_left_untouched() -> None:
    module = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    assert SINGLE.wrap(module) is module
    assert SINGLE.sync_batch_norm(module, True, torch.device("cpu")) is module
    stats = torch.tensor([1.0, 2.0])
    assert SINGLE.mean(stats) is stats
    assert SINGLE.share(lambda: b"bytes") == b"bytes"


def test_synchronised_batch_norm_is_refused_on_the_cpu() -> None:
    module = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
    with pytest.raises(GankitError, match="sync_batch_norm=true needs CUDA"):
        World(0, 2).sync_batch_norm(module, True, torch.device("cpu"))
