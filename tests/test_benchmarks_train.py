"""End-to-end: the default settings solve the mixture benchmarks (about 1.5 minutes each, so
``-m slow``), and a short ring8 run in the default suite that already finds every mode; and
benchmarks/gan_vs_vae.py end to end on tiny settings."""

import json
import runpy
import sys
from pathlib import Path

import pytest

from gankit.cli import main
from gankit.config import load_config
from gankit.data import load_data
from gankit.evaluation import Evaluator
from gankit.training.engine import build_trainer


def test_a_short_ring8_run_finds_all_eight_modes() -> None:
    """2,500 steps of smaller nets (3 to 6 s): seeds 0-2 captured 8/8 modes with 19-22% of the
    samples high quality and a reverse KL of 0.04-0.08 (the 24,000-step default run below:
    >= 90% and < 0.05). The untrained G captures none of them."""
    config = load_config(
        overrides=[
            "data=ring8",
            "seed=0",
            "steps=2500",
            "batch_size=64",
            "generator.hidden=64,64,64",
            "discriminator.hidden=64,64,64",
            "ema=0.99",  # the default 0.999 would still lean on the untrained G after 2,500 steps
            "progress=false",
        ]
    )
    data = load_data(config)
    trainer = build_trainer(config, data)
    evaluate = Evaluator(config, data, 0, seed=config.seed)
    assert evaluate(trainer.sampling_generator)["modes"] < 8
    trainer.fit(config.steps)
    metrics = evaluate(trainer.sampling_generator)
    assert metrics["modes"] == 8
    assert metrics["high_quality"] > 0.1
    assert metrics["reverse_kl"] < 0.2  # the high-quality samples spread over all 8 evenly


@pytest.mark.slow
def test_default_settings_capture_every_mode_of_ring8(tmp_path) -> None:
    """The issue's bar: `gankit train data=ring8 seed=0` captures 8/8 modes, >= 90% high quality."""
    out = tmp_path / "ring8"
    assert main(["train", "--out", str(out), "data=ring8", "seed=0", "progress=false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modes"] == 8
    assert summary["high_quality"] >= 0.90
    assert summary["reverse_kl"] < 0.05


@pytest.mark.slow
def test_default_settings_capture_most_modes_of_grid25(tmp_path) -> None:
    out = tmp_path / "grid25"
    assert main(["train", "--out", str(out), "data=grid25", "seed=0", "progress=false"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["modes"] >= 20


def test_the_gan_vs_vae_benchmark_writes_its_table_json_and_picture(
    tmp_path, monkeypatch, capsys
) -> None:
    """Two seeds of 2 steps on digits (a few seconds): every source and metric in the table and
    the JSON, the per-seed numbers, the verdicts computed from them, the picture."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gan_vs_vae.py"
    out = tmp_path / "out"
    tiny = [
        "data=digits",
        "steps=2",
        "eval_every=2",
        "eval_samples=40",
        "batch_size=16",
        "threads=1",
        "generator.width=8",
        "discriminator.width=8",
    ]
    monkeypatch.setattr(sys, "argv", [str(script), "--seeds", "0", "1", "--out", str(out), *tiny])
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out
    for row in ("| Frechet distance", "| KID", "| recall", "| class accuracy", "| exact copies"):
        assert row in printed
    assert "| metric | GAN | VAE | real (a second draw) | real held-out |" in printed
    assert "By Laplacian variance, the " in printed
    assert "By high-frequency share, the " in printed

    results = json.loads((out / "gan_vs_vae.json").read_text())
    assert results["seeds"] == [0, 1]
    assert [seed["seed"] for seed in results["per_seed"]] == [0, 1]
    summary = results["summary"]
    for source in ("gan", "vae"):
        for key in ("frechet", "kid", "precision", "recall", "coverage", "class_accuracy"):
            assert summary[source][key]["standard_error"] is not None
        for key in ("near_copies", "exact_copies", "dcr_ratio", "sharpness", "high_frequency"):
            assert key in summary[source]
        assert all(seed[source]["seconds"] > 0 for seed in results["per_seed"])
    real = results["per_seed"][0]["real"]
    assert real["images"] == 40 and real["near_copies"] is None  # n/a for training images
    assert "frechet" in summary["real"] and "near_copies" not in summary["real"]
    assert set(summary["heldout"]) == {"sharpness", "high_frequency"}
    for verdict in results["verdicts"]:
        means = {s: summary[s][verdict["measure"]]["mean"] for s in ("gan", "vae")}
        assert verdict["sharper"] == max(means, key=means.get)
        assert isinstance(verdict["separate"]["t95"], bool)
    assert (out / "samples-seed-0.png").is_file()
    assert (out / "gan-seed-1" / "summary.json").is_file()
