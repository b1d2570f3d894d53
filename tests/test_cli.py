import json

import numpy as np
import pytest

from gankit.cli import main

TINY = [
    "steps=40",
    "batch_size=64",
    "log_every=10",
    "eval_every=20",
    "eval_samples=500",
    "progress=false",
    "generator.hidden=32,32",
    "discriminator.hidden=32,32",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ring"
    assert main(["train", "--out", str(out), *TINY]) == 0
    return out


def test_overrides_may_come_before_and_after_options(tmp_path) -> None:
    out = tmp_path / "mixed"
    argv = ["train", "steps=5", "--out", str(out), "seed=3", *TINY[1:]]
    assert main(argv) == 0
    assert "seed: 3" in (out / "config.yaml").read_text()
    assert "steps: 5" in (out / "config.yaml").read_text()


def test_train_writes_a_complete_run_folder(run_dir) -> None:
    names = {p.name for p in run_dir.iterdir()}
    assert {
        "config.yaml",
        "metrics.jsonl",
        "summary.json",
        "model.safetensors",
        "losses.png",
        "samples.png",
    } <= names
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"modes", "high_quality", "reverse_kl", "loss_d", "loss_g", "frechet"} <= set(summary)
    assert (run_dir / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_sample_writes_n_samples(run_dir, tmp_path, suffix) -> None:
    out = tmp_path / f"samples{suffix}"
    assert main(["sample", str(run_dir), "-n", "123", "-o", str(out)]) == 0
    if suffix == ".npy":
        samples = np.load(out)
    elif suffix == ".npz":
        samples = np.load(out)["x"]
    else:
        samples = np.loadtxt(out, delimiter=",", skiprows=1)
    assert samples.shape == (123, 2)


def test_extrapolate_is_refused_for_samples_that_are_not_rows(run_dir, tmp_path, capsys) -> None:
    out = tmp_path / "samples.npy"
    assert main(["sample", str(run_dir), "-n", "5", "-o", str(out), "--extrapolate"]) == 2
    assert "--extrapolate lets a table's numbers leave" in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_writes_the_metrics_into_the_summary(run_dir, tmp_path, capsys) -> None:
    samples = tmp_path / "perfect.npy"
    from gankit.data.mixtures import ring

    np.save(samples, ring().means.repeat(50, 1).numpy().astype(np.float32))
    assert main(["evaluate", str(run_dir), "--samples", str(samples)]) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((run_dir / "summary.json").read_text())
    # Beside the training's own numbers, which stay, each saying which samples it scored.
    assert printed["modes"] == summary["evaluate/modes"] == 8
    assert summary["evaluate/high_quality"] == 1.0
    assert summary["evaluate/scored"] == "400 given samples"
    assert summary["scored"] == "500 samples of G from noise seed 0"
    assert (
        summary["modes"]
        == json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["modes"]
    )


def test_evaluate_repeats_the_training_evaluation_of_the_same_generator(run_dir, capsys) -> None:
    """One evaluator: training's last evaluation and `gankit evaluate` score the same samples."""
    training = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert main(["evaluate", str(run_dir)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    for key in ("modes", "high_quality", "reverse_kl", "frechet", "log_likelihood"):
        assert evaluated[key] == training[key], key
    assert evaluated["scored"] == training["scored"]
    assert main(["evaluate", str(run_dir), "--seed", "7"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["scored"] == "500 samples of G from noise seed 7"
    assert other["frechet"] != training["frechet"]


def test_an_existing_run_folder_is_never_overwritten_unless_asked(run_dir, capsys) -> None:
    before = (run_dir / "model.safetensors").read_bytes()
    assert main(["train", "--out", str(run_dir), *TINY]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (run_dir / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "data=nowhere"], "unknown data 'nowhere'"),
        (["train", "data=missing.npy"], "data file 'missing.npy' not found"),
        (["train", "data=missing.csv"], "table file 'missing.csv' not found"),
        (["train", "generator.widths=3"], "unknown config key 'generator.widths'"),
        (["train", "steps=many"], "config key 'steps' expects an integer"),
        (["train", "--config", "no-such.yaml"], "config file 'no-such.yaml' not found"),
        (["sample", "no-such-run", "-o", "x.npy"], "run folder 'no-such-run' not found"),
        (["sample", "no-such-run", "-o", "x.png"], "use a file ending in .npy"),
        (["sample", "x"], "the following arguments are required: -o/--out"),
        (["fly"], "invalid choice: 'fly'"),
        (["sample", "run", "-o", "x.npy", "n=3"], "unrecognized arguments: n=3"),
        (["train", "--out"], "argument --out: expected one argument"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: ")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_a_corrupt_weights_file_is_refused(run_dir, tmp_path, capsys) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    (broken / "model.safetensors").write_bytes(b"\x80\x04garbage")
    assert main(["sample", str(broken), "-o", str(tmp_path / "x.npy")]) == 2
    assert "not a readable safetensors file" in capsys.readouterr().err
