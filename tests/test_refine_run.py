"""Refined sampling of a trained run, through the API and the command line, and the calibration
phase that trains D alone against G."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save

import gankit
from gankit.cli import main
from gankit.config import load_config
from gankit.data import load_data
from gankit.errors import GankitError
from gankit.nets import build_discriminator, build_generator
from gankit.nets.fourier import FourierDiscriminator
from gankit.run import Run
from gankit.sampling import METHODS, RefineSettings

TINY = [
    "steps=300",
    "batch_size=64",
    "log_every=50",
    "eval_every=300",
    "eval_samples=500",
    "progress=false",
    "tensorboard=false",
    "generator.hidden=32,32",
    "discriminator.hidden=32,32",
]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("refine") / "ring"
    assert main(["train", "--out", str(out), "data=ring8", *TINY]) == 0
    return out


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_exactly_n_samples(ring_run, tmp_path, method, capsys) -> None:
    out = tmp_path / f"{method}.npy"
    argv = ["sample", str(ring_run), "-n", "333", "-o", str(out), "--refine", method]
    assert main(argv) == 0
    assert np.load(out).shape == (333, 2)
    printed = capsys.readouterr().out.splitlines()
    if method != "none":
        report = json.loads(printed[-1])
        assert report["method"] == method and 0 < report["acceptance_rate"] <= 1
        assert report["samples_per_second"] > 0 and report["plain_samples_per_second"] > 0


def test_rejection_raises_the_share_of_high_quality_samples(ring_run) -> None:
    run = gankit.load(ring_run)
    plain = run.evaluate()
    refined = run.evaluate(refine="drs")
    assert refined["high_quality"] > plain["high_quality"]
    assert refined["scored"] == "500 samples of G refined by drs, seed 0"
    assert 0 < refined["refine/acceptance_rate"] < 1


def test_the_calibration_phase_lowers_d_held_out_log_loss(ring_run, tmp_path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(ring_run, run_dir)
    assert main(["refine-d", str(run_dir), "--steps", "300", "--batch-size", "256"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["refine_d/log_loss"] < summary["refine_d/log_loss_before"]
    assert summary["refine_d/batch_size"] == 256
    assert summary["refine_d/model"] == "fourier"  # vectors: a fresh D on Fourier features
    run = gankit.load(run_dir)
    # kept beside the run's D, rebuilt from its file's header, used to refine
    assert isinstance(run.refined_discriminator, FourierDiscriminator)
    x = torch.randn(8, 2)
    assert not torch.equal(run.discriminator(x), run.refined_discriminator(x))
    assert run._networks().refined


def test_refine_d_model_copy_trains_a_copy_of_the_run_d(ring_run, tmp_path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(ring_run, run_dir)
    assert main(["refine-d", str(run_dir), "--steps", "50", "--model", "copy"]) == 0
    run = gankit.load(run_dir)
    assert type(run.refined_discriminator) is type(run.discriminator)
    before = torch.cat([p.flatten() for p in run.discriminator.parameters()])
    after = torch.cat([p.flatten() for p in run.refined_discriminator.parameters()])
    assert before.shape == after.shape and not torch.equal(before, after)
    assert json.loads((run_dir / "summary.json").read_text())["refine_d/model"] == "copy"


def test_a_refined_d_whose_header_names_no_known_model_is_one_line(ring_run, tmp_path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(ring_run, run_dir)
    weights = save({"net.0.weight": torch.zeros(1)}, metadata={"model": "transformer"})
    (run_dir / "refined_discriminator.safetensors").write_bytes(weights)
    with pytest.raises(GankitError, match="unknown refined D model 'transformer'"):
        gankit.load(run_dir)


def test_the_calibration_phase_decays_its_learning_rate_to_zero(ring_run, monkeypatch) -> None:
    # With G fixed, L_D has one minimiser (D*): a step size falling to zero settles on it.
    import gankit.sampling.refine as refine

    schedules = []

    def recording_fit(*args, **kwargs):
        schedules.append(kwargs["lr_factor"])
        return fit(*args, **kwargs)

    fit = refine.fit
    monkeypatch.setattr(refine, "fit", recording_fit)
    monkeypatch.setattr(refine, "FOURIER_STEPS", 50)  # the default budget of vectors' Fourier D
    run = gankit.load(ring_run)
    _, report = refine.refine_discriminator(run._networks(), run.data)
    (factor,) = schedules
    assert factor(0) == 1 and factor(25) == 0.5 and factor(49) == pytest.approx(1 / 50)
    assert report["refine_d/steps"] == 50 and report["refine_d/batch_size"] == 256


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--model", "resnet"], "unknown refined D model 'resnet'; use one of auto, copy"),
    ],
)
def test_a_bad_calibration_setting_exits_2_and_changes_nothing(
    ring_run, tmp_path, extra, message, capsys
):
    run_dir = tmp_path / "run"
    shutil.copytree(ring_run, run_dir)
    summary = (run_dir / "summary.json").read_text()
    assert main(["refine-d", str(run_dir), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert (run_dir / "summary.json").read_text() == summary
    assert gankit.load(run_dir).refined_discriminator is None


def test_conditional_refinement_keeps_the_classes_asked_for() -> None:
    config = load_config(overrides=["data=digits", "progress=false"])
    data = load_data(config)
    classes = data.num_classes
    generator = build_generator(config, data.shape, classes)
    discriminator = build_discriminator(config, data.shape, classes)
    run = Run(config, data.standardizer, generator, discriminator, data=data)
    settings = RefineSettings(burn_in=200, chain=3, steps=2)
    for method in ("drs", "mh", "langevin"):
        images, labels = run.generate(25, seed=1, refine=method, settings=settings)
        assert images.shape == (25, *data.shape)
        assert torch.equal(labels, torch.arange(25) % classes)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--refine", "magic"], "unknown refinement 'magic'"),
        (["--refine", "drs", "--percentile", "100"], "percentile must be in (0, 100)"),
        (["--refine", "mh", "--chain", "0"], "chain length must be at least 1"),
        (["--refine", "langevin", "--step-size", "-1"], "step size must be positive"),
    ],
)
def test_bad_refinement_settings_exit_2_and_write_nothing(
    ring_run, tmp_path, extra, message, capsys
) -> None:
    out = tmp_path / "s.npy"
    assert main(["sample", str(ring_run), "-n", "10", "-o", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_a_packed_d_refines_only_through_a_d_that_scores_one_sample(tmp_path, capsys) -> None:
    run = tmp_path / "packed"
    assert main(["train", "--out", str(run), "data=ring8", *TINY, "steps=20", "pack=2"]) == 0
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "-n", "10", "-o", str(out), "--refine", "drs"]) == 2
    err = capsys.readouterr().err
    assert "judges 2 samples at once" in err and "gankit refine-d RUN" in err
    assert not out.exists()
    assert main(["refine-d", str(run), "--steps", "5", "--model", "copy"]) == 2
    assert "and so would a copy of it" in capsys.readouterr().err
    assert not (run / "refined_discriminator.safetensors").exists()
    assert main(["refine-d", str(run), "--steps", "20"]) == 0  # a Fourier D: one sample each
    summary = json.loads((run / "summary.json").read_text())
    assert summary["refine_d/log_loss_before"] is None  # the packed D gives one sample no score
    assert summary["refine_d/log_loss"] > 0
    assert main(["sample", str(run), "-n", "10", "-o", str(out), "--refine", "drs"]) == 0
    assert np.load(out).shape == (10, 2)


def test_a_hinge_d_needs_the_calibration_phase_for_drs(tmp_path, capsys) -> None:
    run = tmp_path / "hinge"
    assert main(["train", "--out", str(run), "data=ring8", *TINY, "steps=20", "loss=hinge"]) == 0
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "-n", "10", "-o", str(out), "--refine", "drs"]) == 2
    assert "gankit refine-d" in capsys.readouterr().err
    assert main(["sample", str(run), "-n", "10", "-o", str(out), "--refine", "mh"]) == 0


@pytest.mark.parametrize("method", ["drs", "mh"])
def test_a_table_with_an_unpacked_d_refines_its_rows(tmp_path, method) -> None:
    """A table run with pack=1 refines: exactly n rows, every value seen in training, and a
    condition asked for is kept; MH starts from held-out rows of each condition (a category
    missing from the held-out rows starts from its training rows)."""
    settings = [*TINY[:5], "steps=60", "pack=1", "generator.hidden=[32]"]
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "data=penguins", *settings]) == 0
    run = gankit.load(out)
    rows = run.sample(50, refine=method)
    assert len(rows) == 50 and list(rows.columns) == list(run.data.frame.columns)
    assert set(rows["species"]) <= set(run.data.frame["species"])
    gentoo = run.sample(30, refine=method, condition={"species": "Gentoo"})
    assert len(gentoo) == 30 and set(gentoo["species"]) == {"Gentoo"}


def test_the_calibration_phase_depends_on_its_seed_alone(tmp_path) -> None:
    """A table's D has dropout and its G draws categories at random: refine-d seeds both, so
    the refined D is the same whatever ran before it in the process."""
    out = tmp_path / "run"
    settings = [*TINY[:5], "steps=40", "pack=1", "generator.hidden=[16]"]
    assert main(["train", "--out", str(out), "data=penguins", *settings]) == 0
    refined = []
    for before in (1, 2):
        torch.manual_seed(before)  # the caller's stream, left in another state each time
        run = gankit.load(out)
        run.refine_discriminator(steps=20, seed=0)
        refined.append(run.refined_discriminator.state_dict())
    for name, tensor in refined[0].items():
        assert torch.equal(tensor, refined[1][name]), name


def test_a_packed_table_d_is_refused_by_refine_d_in_one_line(tmp_path, capsys) -> None:
    out = tmp_path / "run"  # tables pack 10 rows by default
    settings = [*TINY[:5], "steps=10", "batch_size=60", "generator.hidden=[16]"]
    assert main(["train", "--out", str(out), "data=penguins", *settings]) == 0
    assert main(["refine-d", str(out), "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert "judges 10 samples at once" in err and "train with pack=1" in err
    assert err.count("\n") == 1 and not (out / "refined_discriminator.safetensors").exists()


def test_a_fourier_d_is_for_vectors_a_table_run_says_so(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    settings = [*TINY[:5], "steps=20", "pack=1", "generator.hidden=[16]"]
    assert main(["train", "--out", str(out), "data=penguins", *settings]) == 0
    summary = (out / "summary.json").read_text()
    assert main(["refine-d", str(out), "--steps", "5", "--model", "fourier"]) == 2
    err = capsys.readouterr().err
    assert "--model fourier refines D for vector data" in err and err.count("\n") == 1
    assert (out / "summary.json").read_text() == summary
    assert not (out / "refined_discriminator.safetensors").exists()
    assert main(["refine-d", str(out), "--steps", "5"]) == 0  # auto: a copy of the table's D
    assert json.loads((out / "summary.json").read_text())["refine_d/model"] == "copy"
