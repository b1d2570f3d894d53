"""Checkpoints: exact round trips, atomic writes, retention, and files that must be refused."""

import os
import pickle
import random
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny
from test_engine import make_trainer, same, snapshot

import gankit
from gankit.cli import main
from gankit.training.checkpoint import CheckpointError, Checkpoints, read_checkpoint

CLI_TINY = [
    f"{key}={','.join(map(str, v)) if isinstance(v, list) else v}" for key, v in tiny().items()
]


def test_a_checkpoint_round_trip_continues_exactly(tmp_path) -> None:
    # Checkpoints every 17 steps fall between records (every 7): half-summed stats are state too.
    settings = {"r1": 0.1, "log_every": 7, "checkpoint_every": 17}
    uninterrupted = make_trainer(**settings)
    checkpoints = Checkpoints(tmp_path)
    records: list[dict] = []
    np.random.seed(1)
    random.seed(1)
    uninterrupted.fit(30, [records.append], checkpoint=lambda: checkpoints.save(uninterrupted))

    resumed = make_trainer(**settings, seed=5)  # another init: the checkpoint replaces all of it
    np.random.seed(2)
    random.seed(2)
    checkpoint = read_checkpoint(tmp_path / "step-00000017.safetensors")
    checkpoint.restore(resumed)
    assert checkpoint.step == resumed.step == 17
    assert checkpoint.config == uninterrupted.config
    # The global streams are back where they were (training itself draws from none of them).
    assert np.random.random() == np.random.RandomState(1).random_sample()
    assert random.random() == random.Random(1).random()
    later: list[dict] = []
    resumed.fit(30, [later.append])
    assert later == [record for record in records if record["step"] > 17]
    for network in ("generator", "discriminator", "sampling_generator"):
        assert same(snapshot(getattr(resumed, network)), snapshot(getattr(uninterrupted, network)))


def test_only_the_newest_checkpoints_are_kept(tmp_path) -> None:
    trainer = make_trainer()
    checkpoints = Checkpoints(tmp_path, keep=2)
    for _ in range(4):
        trainer.fit(trainer.step + 1)
        checkpoints.save(trainer)
    assert [p.name for p in checkpoints.paths()] == [
        "step-00000003.safetensors",
        "step-00000004.safetensors",
    ]


def test_a_crash_while_writing_leaves_the_last_checkpoint_whole(tmp_path, monkeypatch) -> None:
    trainer = make_trainer()
    checkpoints = Checkpoints(tmp_path)
    trainer.fit(2)
    good = checkpoints.save(trainer)
    trainer.fit(3)

    class Crash(Exception):
        pass

    def crash(*args: object) -> None:
        raise Crash  # the process dies between writing and renaming

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Crash):
        checkpoints.save(trainer)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [good.name]  # the attempt is gone
    (tmp_path / ".step-00000003.safetensors.999.tmp").write_bytes(b"half")  # as a kill leaves
    assert checkpoints.paths() == [good]
    assert checkpoints.newest().step == 2


def test_files_that_are_not_checkpoints_are_ignored(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "step-12.safetensors.bak").write_text("old")
    assert Checkpoints(tmp_path).paths() == []
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        Checkpoints(tmp_path).newest()


class Exploit:
    """Unpickling this would run code: create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A run folder with checkpoints at steps 0, 20 and 40 (40 is the last step)."""
    run = tmp_path_factory.mktemp("checkpoints") / "run"
    assert main(["train", "--out", str(run), *CLI_TINY, "checkpoint_every=20"]) == 0
    return run


def copy_run(run: Path, to: Path) -> Path:
    (to / "checkpoints").mkdir(parents=True)
    for path in [run / "config.yaml", *(run / "checkpoints").iterdir()]:
        (to / path.relative_to(run)).write_bytes(path.read_bytes())
    return to


def test_a_planted_pickle_is_refused_without_running_it(stopped_run, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text((stopped_run / "config.yaml").read_text())
    marker = tmp_path / "pwned"
    planted = run / "checkpoints" / "step-00000020.safetensors"
    planted.write_bytes(pickle.dumps(Exploit(marker)))
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: ") and err.count("\n") == 1
    assert f"{str(planted)!r} is not a gankit checkpoint; refusing to load it" in err
    assert "Traceback" not in err
    assert not marker.exists()


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(stopped_run, tmp_path, capsys):
    run = copy_run(stopped_run, tmp_path / "run")
    newest = run / "checkpoints" / "step-00000040.safetensors"
    blob = bytearray(newest.read_bytes())
    blob[-5] ^= 0xFF  # one flipped bit in a tensor: still parses, but not what was written
    newest.write_bytes(bytes(blob))
    (run / "checkpoints" / "step-00000020.safetensors").write_bytes(b"")  # and an empty one
    assert main(["train", "--resume", str(run)]) == 0
    err = capsys.readouterr().err
    assert "step-00000040.safetensors' is damaged or truncated (checksum mismatch); using" in err
    assert "step-00000020.safetensors' is not a gankit checkpoint" in err
    assert "resuming" in err and "at step 0 of 40" in err
    expected = gankit.load(stopped_run).sample(100)
    assert np.array_equal(gankit.load(run).sample(100), expected)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda blob: blob[: len(blob) // 2], "damaged or truncated"),
        (lambda blob: blob[:6], "not a gankit checkpoint"),
        (lambda blob: b"\x08" + bytes(7) + b"{bad: 1}" + blob[16:], "not a gankit checkpoint"),
        (lambda blob: blob.replace(b'"version":"1"', b'"version":"9"'), "has format version '9'"),
    ],
)
def test_damaged_checkpoints_get_one_clear_line(stopped_run, tmp_path, damage, message):
    source = stopped_run / "checkpoints" / "step-00000040.safetensors"
    path = tmp_path / "step-00000040.safetensors"
    path.write_bytes(damage(source.read_bytes()))
    with pytest.raises(CheckpointError, match=re.escape(message)) as error:
        read_checkpoint(path)
    assert "\n" not in str(error.value)


def test_resume_takes_no_other_settings(stopped_run, capsys) -> None:
    assert main(["train", "--resume", str(stopped_run), "steps=80"]) == 2
    assert "drop --config, --out, --overwrite and KEY=VALUE" in capsys.readouterr().err
    assert main(["train", "--resume", str(stopped_run.parent / "nothing-here")]) == 2
    assert "is not a gankit run folder" in capsys.readouterr().err


def test_nothing_gankit_reads_or_writes_is_pickled() -> None:
    # np.load allows pickles unless told not to; torch.load/torch.save use them by design.
    source = Path(gankit.__file__).parent
    for path in source.rglob("*.py"):
        text = path.read_text()
        unsafe = r"\b(import|from) pickle\b|\bpickle\.|torch\.(load|save)\(|allow_pickle=True"
        assert not re.search(unsafe, text), path
        for call in re.findall(r"np\.load\([^)]*\)", text):
            assert "allow_pickle=False" in call, (path, call)
