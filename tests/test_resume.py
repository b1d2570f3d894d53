"""Runs killed with SIGKILL at random steps and resumed end bit-identical to uninterrupted ones."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gankit.cli import main

# Checkpoints (every 30 steps) fall between records (every 20), so a resumed run must also
# restore the half-summed stats of the next record.
TINY = [
    "steps=240",
    "batch_size=32",
    "log_every=20",
    "eval_every=100",
    "eval_samples=200",
    "checkpoint_every=30",
    "progress=false",
    "generator.hidden=16,16",
    "discriminator.hidden=16,16",
]


def last_logged_step(run) -> int:
    path = run / "metrics.jsonl"
    lines = path.read_text().split("\n")[:-1] if path.is_file() else []  # complete lines only
    return json.loads(lines[-1])["step"] if lines else 0


def train_until_killed(run, kill_step: int) -> None:
    """A real `gankit train` process, SIGKILLed once it has logged ``kill_step``."""
    command = [sys.executable, "-m", "gankit.cli", "train", "--out", str(run), *TINY]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None and last_logged_step(run) < kill_step:
        time.sleep(0.005)
    process.kill()
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"


def tensorboard_steps(run) -> list[int]:
    events = EventAccumulator(str(run))
    events.Reload()
    return [event.step for event in events.Scalars("loss/D")]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run = tmp_path_factory.mktemp("resume") / "uninterrupted"
    assert main(["train", "--out", str(run), *TINY]) == 0
    return run


@pytest.mark.parametrize("kill_step", random.Random(6).sample(range(40, 200), 3))
def test_a_killed_run_resumes_bit_identical(uninterrupted, tmp_path, kill_step, capsys) -> None:
    run = tmp_path / "killed"
    train_until_killed(run, kill_step)
    assert not (run / "model.safetensors").exists()
    assert main(["train", "--resume", str(run)]) == 0
    assert "gankit: resuming" in capsys.readouterr().err

    expected, actual = (
        load_file(uninterrupted / "model.safetensors"),
        load_file(run / "model.safetensors"),
    )
    assert expected.keys() == actual.keys()
    assert all(torch.equal(expected[name], actual[name]) for name in expected)
    # metrics.jsonl goes on without a duplicated step, with the very same numbers.
    assert (run / "metrics.jsonl").read_text() == (uninterrupted / "metrics.jsonl").read_text()
    assert tensorboard_steps(run) == tensorboard_steps(uninterrupted) == list(range(20, 241, 20))
    names = sorted(p.name for p in (run / "checkpoints").glob("step-*.safetensors"))
    assert names == [
        "step-00000180.safetensors",
        "step-00000210.safetensors",
        "step-00000240.safetensors",
    ]


def test_resuming_a_finished_run_changes_nothing(uninterrupted, capsys) -> None:
    before = load_file(uninterrupted / "model.safetensors")
    assert main(["train", "--resume", str(uninterrupted)]) == 0
    after = load_file(uninterrupted / "model.safetensors")
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert "at step 240 of 240" in capsys.readouterr().err


def test_tensorboard_has_the_losses_the_d_outputs_and_the_metrics(uninterrupted) -> None:
    events = EventAccumulator(str(uninterrupted))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss/D", "loss/G", "D/real", "D/fake", "metrics/frechet", "metrics/modes"} <= tags
    assert [event.step for event in events.Scalars("metrics/frechet")] == [100, 200, 240]
