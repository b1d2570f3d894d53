"""The run folder: its lock, its one metrics reader, the data's fingerprint on resume, and the
files the CLI and the API write alike."""

import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.output import run_folder
from gankit.output.html_report import write_report

TINY = [
    "steps=40",
    "batch_size=64",
    "log_every=10",
    "eval_every=20",
    "eval_samples=400",
    "checkpoint_every=20",
    "progress=false",
    "tensorboard=false",
    "generator.hidden=32,32",
    "discriminator.hidden=32,32",
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("folder") / "run"
    assert main(["train", "--out", str(out), *TINY]) == 0
    return out


def copy_run(source, target):
    shutil.copytree(source, target)
    return target


def hold_lock(run, pid: int) -> None:
    holder = {"pid": pid, "host": socket.gethostname(), "what": "training it", "since": 0}
    (run / run_folder.LOCK).write_text(json.dumps(holder))


def test_a_folder_in_use_is_refused_with_its_holder_named(finished_run, tmp_path, capsys):
    run = copy_run(finished_run, tmp_path / "run")
    before = (run / "summary.json").read_bytes()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as holder:
        try:
            hold_lock(run, holder.pid)
            for argv in (
                ["train", "--resume", str(run)],
                ["evaluate", str(run)],
                ["train", "--out", str(run), "--overwrite", *TINY],
            ):
                assert main(argv) == 2, argv
                err = capsys.readouterr().err
                assert err.count("\n") == 1
                assert f"is in use: process {holder.pid} on {socket.gethostname()}" in err
        finally:
            holder.kill()
    assert (run / "summary.json").read_bytes() == before  # nothing was touched


def test_a_stale_lock_of_a_finished_process_is_taken_over(finished_run, tmp_path, capsys):
    run = copy_run(finished_run, tmp_path / "run")
    hold_lock(run, _dead_pid())
    assert main(["evaluate", str(run)]) == 0
    assert not (run / run_folder.LOCK).exists()  # released when the command ends


def _dead_pid() -> int:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(finished.stdout)


def test_the_lock_is_released_when_training_fails(tmp_path) -> None:
    with pytest.raises(RuntimeError), run_folder.locked(tmp_path, "training it"):
        assert (tmp_path / run_folder.LOCK).is_file()
        raise RuntimeError("a bug")
    assert not (tmp_path / run_folder.LOCK).exists()
    with (
        run_folder.locked(tmp_path, "training it"),
        pytest.raises(GankitError, match="in use"),
        run_folder.locked(tmp_path, "evaluating it"),
    ):
        pass


def test_a_last_line_cut_short_is_skipped_and_damage_elsewhere_named(tmp_path) -> None:
    path = tmp_path / run_folder.METRICS
    path.write_text('{"step": 10, "loss_d": 1.3}\n{"step": 20, "loss_d": 1.2}\n{"step": 3')
    assert [r["step"] for r in run_folder.read_metrics(path)] == [10, 20]
    path.write_text('{"step": 10}\n{"ste\n{"step": 30}\n')
    with pytest.raises(GankitError, match="line 2 is not a metrics record"):
        run_folder.read_metrics(path)


def test_the_report_of_a_crashed_run_with_a_truncated_log(finished_run, tmp_path) -> None:
    run = copy_run(finished_run, tmp_path / "run")
    log = run / run_folder.METRICS
    log.write_bytes(log.read_bytes()[:-7])  # the crash cut the last record short
    (run / run_folder.LOSSES).unlink()  # the crash came before it: drawn from the log
    page = write_report(run).read_text()
    assert "Losses and mean discriminator outputs against the step" in page


def test_resuming_on_changed_data_is_refused_unless_allowed(tmp_path, capsys) -> None:
    data = tmp_path / "points.npy"
    rng = np.random.default_rng(0)
    np.save(data, rng.normal(size=(300, 2)).astype(np.float32))
    run = tmp_path / "run"
    argv = ["train", "--out", str(run), f"data={data}", *TINY, "steps=30", "checkpoint_every=10"]
    assert main(argv) == 0
    (run / "checkpoints" / "step-00000030.safetensors").unlink()  # as if killed after step 20
    np.save(data, rng.normal(size=(300, 2)).astype(np.float32))  # same size, other rows
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "changed since its checkpoint" in err and "--allow-changed-data" in err
    assert main(["train", "--resume", str(run), "--allow-changed-data"]) == 0


def test_the_api_writes_samples_as_the_cli_does(finished_run, tmp_path) -> None:
    assert main(["sample", str(finished_run), "-n", "50", "-o", str(tmp_path / "cli.csv")]) == 0
    gankit.load(finished_run).save_samples(tmp_path / "api.csv", 50)
    assert (tmp_path / "cli.csv").read_text() == (tmp_path / "api.csv").read_text()


def test_the_config_says_where_each_setting_came_from(finished_run) -> None:
    lines = (finished_run / run_folder.CONFIG).read_text().splitlines()
    assert "steps: 40  # command line" in lines
    assert "seed: 0  # default" in lines
    assert not any(line.strip().startswith("width:") for line in lines)  # the MLP has none


def test_a_built_in_name_stays_built_in_beside_a_folder_of_that_name(tmp_path) -> None:
    (tmp_path / "digits").mkdir()
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        config = gankit.load_config(overrides=["data=digits"])
        assert not config.data_is_path
        assert config.model == "dcgan" and config.conditional  # the images' defaults
    finally:
        os.chdir(here)


def test_data_at_1e19_trains_and_beyond_float32_is_a_data_error(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    large = tmp_path / "large.npy"
    np.save(large, (rng.normal(size=(200, 2)) * 1e19).astype(np.float32))
    assert main(["train", f"data={large}", "--out", str(tmp_path / "large"), *TINY]) == 0
    huge = tmp_path / "huge.npy"
    np.save(huge, np.array([[3e38, 0], [-3e38, 1], [3e38, 2]], np.float32))
    assert main(["train", f"data={huge}", "--out", str(tmp_path / "huge"), *TINY]) == 2
    err = capsys.readouterr().err
    assert "too wide a range to standardise" in err and err.count("\n") == 1
    assert not (tmp_path / "huge").exists()


def test_the_package_root_and_the_help_load_no_torch() -> None:
    code = (
        "import sys, gankit, gankit.cli; gankit.cli.build_parser();"
        "import gankit.config; print('torch' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"gankit {gankit.__version__}"
