"""`gankit augment`: a tiny study end to end, its interval arithmetic from the cells, its
settings apart from the training config, and its errors."""

import contextlib
import itertools
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import gankit
from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError, GankitError
from gankit.metrics.intervals import paired_gain, t_interval
from gankit.output.html_report import write_report
from gankit.studies import REGIMES, load_study_config

TINY_STUDY = [
    "study.fractions=[0.05,0.1]",
    "study.seeds=2",
    "study.classifiers=[logistic]",
    "steps=20",
    "batch_size=32",
    "noise.dim=8",
    "generator.width=8",
    "discriminator.width=8",
    "eval_samples=200",
    "log_every=10",
]

pytestmark = pytest.mark.usefixtures("private_feature_cache")


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory, private_feature_cache):
    out = tmp_path_factory.mktemp("studies") / "digits"
    assert main(["augment", "--out", str(out), "data=digits", *TINY_STUDY]) == 0
    return out


def test_a_study_writes_its_tables_plot_and_a_folder_per_cell(study_dir, capsys) -> None:
    study = json.loads((study_dir / "study.json").read_text())
    findings, accuracy, generators = study["tables"]
    assert [row[0] for row in findings["rows"]] == ["0.05"] * 4 + ["0.1"] * 4
    assert len(accuracy["rows"]) == 2 * len(REGIMES)  # two fractions, one classifier
    assert [row[3] for row in accuracy["rows"][: len(REGIMES)]] == list(REGIMES)
    assert [row[1] for row in generators["rows"]] == ["gan", "vae", "real"] * 2
    assert (study_dir / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert "| fraction | real images |" in (study_dir / "table.md").read_text()
    for picture in study["pictures"]:
        assert (study_dir / picture["path"]).is_file(), picture["path"]
    shown = {picture["path"] for picture in study["pictures"]}
    for name in ("gan/losses.png", "vae/losses.png", "gan/nearest.png", "vae/samples.png"):
        assert f"fraction-0.05/seed-0/{name}" in shown
    cell = json.loads((study_dir / "fraction-0.05" / "seed-1" / "cell.json").read_text())
    assert cell["real_images"] == 70  # 5% of each class of the 1438 training digits
    assert cell["synthetic_images"] == 70  # ratio 1, a multiple of the 10 classes
    assert set(cell["scores"]) == set(REGIMES)
    gan = json.loads((study_dir / "fraction-0.05" / "seed-1" / "gan" / "summary.json").read_text())
    assert {"dcr_ratio", "near_copy_share", "exact_copies"} <= set(gan)
    assert (study_dir / "fraction-0.05" / "seed-1" / "vae" / "vae.safetensors").is_file()


def test_the_study_report_shows_every_picture_and_table_in_a_browser(study_dir, tmp_path) -> None:
    from test_report import _browser, _render

    browser = _browser()
    check = _render(browser, write_report(study_dir, tmp_path / "report.html"), tmp_path)
    study = json.loads((study_dir / "study.json").read_text())
    assert check["images"] == len(study["pictures"]) and check["broken"] == []
    assert len(check["rows"]) >= 4 and min(check["rows"]) >= 1, check["rows"]


def test_the_seeds_draw_different_real_subsets(study_dir) -> None:
    cells = [
        json.loads((study_dir / "fraction-0.1" / f"seed-{seed}" / "cell.json").read_text())
        for seed in (0, 1)
    ]
    assert cells[0]["real_images"] == cells[1]["real_images"] == 143
    real = [c["scores"]["real"]["logistic"]["accuracy"] for c in cells]
    assert real[0] != real[1]  # another subset, another classifier


def test_the_intervals_are_those_of_the_cells_numbers(study_dir) -> None:
    study = json.loads((study_dir / "study.json").read_text())
    cells = [c for c in study["cells"] if c["fraction"] == 0.1]
    row = next(r for r in study["accuracy"] if r["fraction"] == 0.1 and r["regime"] == "real+gan")
    ours = [c["scores"]["real+gan"]["logistic"]["accuracy"] for c in cells]
    real = [c["scores"]["real"]["logistic"]["accuracy"] for c in cells]
    assert row["accuracy"] == pytest.approx(t_interval(ours).to_dict())
    assert row["accuracy_gain"] == pytest.approx(paired_gain(ours, real).to_dict())
    assert row["accuracy_gain"]["mean"] == pytest.approx(np.mean(ours) - np.mean(real))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["data=ring8"], "needs classes"),
        (["study.fractions=[0.1,0]"], "fractions of the training data in (0, 1]"),
        (["study.fractions=[0.1,0.1]"], "repeats a fraction"),
        (["image.per_class=3"], "drop image.per_class"),
        (["study.classifer=[cnn]"], "did you mean 'study.classifiers'"),
        (["study.population=true", "model=resnet"], "stacks MLPs, DCGANs and table networks"),
    ],
)
def test_bad_study_settings_are_one_line_errors(tmp_path, capsys, arguments, message) -> None:
    assert main(["augment", "--out", str(tmp_path / "study"), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "study").exists()


def test_an_existing_study_folder_is_kept(study_dir, capsys) -> None:
    before = (study_dir / "study.json").read_bytes()
    assert main(["augment", "--out", str(study_dir), *TINY_STUDY]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (study_dir / "study.json").read_bytes() == before


def test_a_labelled_npz_of_the_users_own_works_too(tmp_path) -> None:
    rng = np.random.default_rng(0)
    labels = np.arange(120) % 3
    images = rng.integers(0, 60, (120, 8, 8)).astype(np.uint8)
    for label, (top, left) in enumerate([(0, 0), (0, 4), (4, 0)]):  # a bright corner a class
        images[labels == label, top : top + 4, left : left + 4] += 180
    np.savez(tmp_path / "corners.npz", images=images, labels=labels)
    out = tmp_path / "study"
    settings = [f"data={tmp_path / 'corners.npz'}", "study.fractions=[0.5]", "study.seeds=1"]
    assert main(["augment", "--out", str(out), *settings, *TINY_STUDY[2:]]) == 0
    study = json.loads((out / "study.json").read_text())
    assert study["title"] == "Does synthetic data help? corners"
    real = next(row for row in study["accuracy"] if row["regime"] == "real")
    assert real["real_images"] == 48 and real["accuracy"]["mean"] > 0.9  # an easy task


def test_a_stopped_study_resumes_and_keeps_its_done_cells(study_dir, tmp_path, capsys) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(study_dir, copy)
    undone = copy / "fraction-0.1" / "seed-1"
    shutil.rmtree(undone / "vae")
    (undone / "cell.json").unlink()  # stopped while this cell was running
    kept = (copy / "fraction-0.05" / "seed-0" / "cell.json").stat().st_mtime_ns
    (copy / "study.json").unlink()
    assert main(["augment", "--resume", str(copy)]) == 0
    assert (copy / "fraction-0.05" / "seed-0" / "cell.json").stat().st_mtime_ns == kept
    again, before = (
        json.loads((folder / "fraction-0.1" / "seed-1" / "cell.json").read_text())
        for folder in (copy, study_dir)
    )
    assert again.pop("seconds") > 0 and before.pop("seconds") > 0
    assert again == before  # the same numbers again: every cell is seeded
    assert (
        json.loads((copy / "study.json").read_text())["accuracy"]
        == json.loads((study_dir / "study.json").read_text())["accuracy"]
    )
    assert main(["augment", "--resume", str(copy), "steps=5"]) == 2
    assert "drop --config" in capsys.readouterr().err


@pytest.fixture
def pools(monkeypatch) -> list[int]:
    """The size of each process pool that ``gankit augment`` starts, in order."""
    from gankit.studies import augment

    started = []

    class RecordedPool(augment.ProcessPoolExecutor):
        def __init__(self, max_workers, **kwargs) -> None:
            started.append(max_workers)
            super().__init__(max_workers, **kwargs)

    monkeypatch.setattr(augment, "ProcessPoolExecutor", RecordedPool)
    return started


def test_cells_run_in_parallel_processes_give_the_numbers_of_serial_ones(
    study_dir, tmp_path, pools
) -> None:
    out = tmp_path / "parallel"
    settings = ["study.fractions=[0.05]", "study.jobs=2", *TINY_STUDY[1:]]
    assert main(["augment", "--out", str(out), *settings]) == 0
    assert pools == [2]  # both cells at once, each in a process of its own
    for seed in (0, 1):
        parallel, serial = (
            json.loads((folder / "fraction-0.05" / f"seed-{seed}" / "cell.json").read_text())
            for folder in (out, study_dir)
        )
        assert parallel.pop("seconds") > 0 and serial.pop("seconds") > 0
        assert parallel == serial


def test_a_population_study_trains_each_cells_gan_as_the_cell_would(
    study_dir, tmp_path, pools
) -> None:
    """``study.population``: each fraction's GANs train as one population (the two fractions'
    in two processes, which then run the cells), each GAN in its cell's gan/ folder and
    following the GAN the cell trains alone (up to rounding); a study stopped after its
    populations keeps their GANs."""
    out = tmp_path / "together"
    settings = ["study.population=true", "study.jobs=2", *TINY_STUDY]
    assert main(["augment", "--out", str(out), *settings]) == 0
    assert pools == [2]  # one start-up of two processes for the populations and the cells
    state = json.loads((out / "fraction-0.05" / "population" / "population.json").read_text())
    assert [m["folder"] for m in state["members"]] == ["../seed-0/gan", "../seed-1/gan"]
    assert [m["settings"] for m in state["members"]] == [{"image.subset_seed": s} for s in (0, 1)]
    for fraction, seed in itertools.product(("0.05", "0.1"), (0, 1)):
        cell = f"fraction-{fraction}/seed-{seed}"
        together, alone = out / cell, study_dir / cell
        losses = [
            [json.loads(line)["loss_d"] for line in (cell / "gan" / "metrics.jsonl").open()]
            for cell in (together, alone)
        ]
        assert losses[0] == pytest.approx(losses[1], rel=1e-4)
        cells = [json.loads((cell / "cell.json").read_text()) for cell in (together, alone)]
        assert cells[0]["real_images"] == cells[1]["real_images"]
        assert cells[0]["generators"]["gan"]["frechet"] == pytest.approx(
            cells[1]["generators"]["gan"]["frechet"], rel=1e-2
        )
    model = out / "fraction-0.05" / "seed-1" / "gan" / "model.safetensors"
    trained = model.stat().st_mtime_ns
    (out / "fraction-0.05" / "seed-1" / "cell.json").unlink()
    (out / "study.json").unlink()
    assert main(["augment", "--resume", str(out)]) == 0
    assert model.stat().st_mtime_ns == trained  # its GAN was done: not trained again
    assert (out / "fraction-0.05" / "seed-1" / "cell.json").is_file()


def test_the_study_settings_live_in_study_yaml_and_no_training_config(study_dir) -> None:
    assert not (study_dir / "config.yaml").exists()  # a study folder is no run folder
    saved = yaml.safe_load((study_dir / "study.yaml").read_text())
    assert saved["study"]["fractions"] == [0.05, 0.1] and saved["steps"] == 20
    settings = load_study_config(study_dir / "study.yaml")
    assert settings.study.seeds == 2 and settings.study.classifiers == ["logistic"]
    assert settings.training.noise.dim == 8
    gan = study_dir / "fraction-0.1" / "seed-1" / "gan"
    run_config = yaml.safe_load((gan / "config.yaml").read_text())
    assert "study" not in run_config
    assert run_config["image"]["train_fraction"] == 0.1 and run_config["seed"] == 1
    assert gankit.load(gan).config.image.subset_seed == 1  # a run folder like any other
    with pytest.raises(ConfigError, match="unknown config key 'study'"):
        load_config(overrides=["study.seeds=2"])  # gankit train has no study settings


def test_a_config_file_holds_training_settings_and_a_study_section(tmp_path) -> None:
    path = tmp_path / "augment.yaml"
    path.write_text("steps: 50\nimage: {holdout: 0.3}\nstudy: {seeds: 4, vae: false}\n")
    settings = load_study_config(path, ["study.seeds=5", "image.holdout=0.25"])
    assert (settings.study.seeds, settings.study.vae) == (5, False)  # KEY=VALUE wins
    assert (settings.training.steps, settings.training.image.holdout) == (50, 0.25)
    assert settings.training.sources["steps"] == str(path)
    assert settings.training.sources["image.holdout"] == "command line"
    given = load_study_config(path, base={"study.seeds": 2, "steps": 60})
    assert (given.study.seeds, given.training.steps) == (2, 60)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (["study.seed=3"], "unknown config key 'study.seed'; did you mean 'study.seeds'?"),
        ({"study": {"fraction": [0.1]}}, "did you mean 'study.fractions'?"),
        (["study.foo=1"], "unknown config key 'study.foo'; known keys: study.fractions, "),
        (["study=3"], "config key 'study' is a section"),
    ],
)
def test_an_unknown_study_key_is_refused_in_one_line(source, message) -> None:
    with pytest.raises(ConfigError) as error:
        if isinstance(source, dict):
            load_study_config(base=source)
        else:
            load_study_config(overrides=source)
    assert message in str(error.value) and len(str(error.value).splitlines()) == 1


def test_the_api_takes_a_dict_of_dotted_settings(tmp_path) -> None:
    with pytest.raises(GankitError, match="needs classes"):
        gankit.augment_study({"data": "ring8", "study.seeds": 2}, out=tmp_path / "s")
    assert not (tmp_path / "s").exists()  # refused before the folder was made


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the cell processes in /proc")
def test_killing_a_study_ends_its_cell_processes(study_dir, tmp_path) -> None:
    """SIGTERM to `gankit augment` leaves no cell process running on, orphaned (``study_dir``:
    the digits feature network already in the cache)."""
    settings = ["study.fractions=[0.05]", "study.jobs=2", *TINY_STUDY[1:], "steps=100000"]
    study = subprocess.Popen(
        [sys.executable, "-m", "gankit.cli", "augment", "--out", str(tmp_path / "s"), *settings],
        stderr=subprocess.DEVNULL,
    )
    try:
        cells = []
        for _ in range(600):  # until both cells train (their run folders have a config)
            cells = children(study.pid)
            if len(cells) >= 2 and len(list(tmp_path.glob("s/*/seed-*/gan/config.yaml"))) == 2:
                break
            time.sleep(0.1)
        assert len(cells) >= 2
        study.send_signal(signal.SIGTERM)
        study.wait(10)
        deadline = time.monotonic() + 15
        while any(is_running(pid) for pid in cells) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in cells if is_running(pid)]
    finally:
        study.kill()


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                found.append(int(stat.parent.name))
    return found


def is_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting for its parent to collect it."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False
