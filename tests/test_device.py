"""The device and precision settings; the CUDA tests run only where PyTorch sees a GPU."""

import json

import numpy as np
import pytest
import torch
from conftest import tiny
from test_engine import make_trainer
from test_population import TINY, TINY_DIGITS, TINY_PENGUINS, train_killed_at_step_25
from test_tables_run import SHORT

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.training import engine
from gankit.training.device import resolve_device

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_auto_picks_cuda_only_when_pytorch_sees_it(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto", "fp32") == torch.device("cpu")
    assert make_trainer(device="auto").device == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a device object, no GPU use
    assert resolve_device("auto", "fp32") == torch.device("cuda")
    assert resolve_device("cpu", "fp32") == torch.device("cpu")  # cpu stays cpu


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["device=cuda"], "device=cuda, but PyTorch sees no CUDA device"),
        (["precision=bf16"], "precision=bf16 needs a CUDA device"),  # device=auto: the CPU here
        (["device=cpu", "precision=bf16"], "precision=bf16 needs a CUDA device"),
    ],
)
def test_cuda_and_bf16_without_a_gpu_are_refused_in_one_line(
    monkeypatch, tmp_path, capsys, settings, message
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GankitError, match=message) as error:
        make_trainer(**dict(setting.split("=") for setting in settings))
    assert "\n" not in str(error.value)
    # and from the command line: exit status 2, one line, no traceback, no run folder
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "steps=2", "progress=false", *settings]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_bf16_is_refused_on_a_gpu_without_bfloat16(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(GankitError, match="this GPU has no bfloat16 support"):
        resolve_device("cuda", "bf16")


def test_the_bf16_steps_run_under_cpu_autocast(monkeypatch) -> None:
    # The engine's side of bf16 (autocast around the forward passes, bf16 logits in the stats
    # and in R1), checked on the CPU; resolve_device refuses bf16 there, so it is bypassed.
    monkeypatch.setattr(engine, "resolve_device", lambda *args: torch.device("cpu"))
    trainer = make_trainer(precision="bf16", r1=1.0)
    with trainer.autocast():
        assert trainer.discriminator(trainer.data.sample(4)).dtype == torch.bfloat16
    records = []
    trainer.fit(20, hooks=[records.append])
    assert all(np.isfinite(list(r.values())).all() for r in records)
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())


@GPU
def test_everything_the_trainer_makes_is_on_its_device() -> None:
    trainer = make_trainer(device="cuda")
    tensors = [
        *trainer.generator.parameters(),
        *trainer.discriminator.parameters(),
        *trainer.sampling_generator.parameters(),
        trainer.sample_noise(3),
        trainer.data.sample(3, trainer.data_rng),
    ]
    assert {t.device.type for t in tensors} == {"cuda"}
    assert trainer.data_rng.device.type == trainer.noise_rng.device.type == "cuda"


@GPU
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_on_cuda(tmp_path, precision) -> None:
    trainer = make_trainer(device="cuda", precision=precision)
    assert trainer.data_rng.device.type == "cuda"
    trainer.fit(5)
    assert all(p.device.type == "cuda" for p in trainer.generator.parameters())
    run = gankit.train(tiny(device="cuda", precision=precision), out=tmp_path / "run")
    samples = gankit.load(tmp_path / "run").sample(100)  # loaded on the CPU
    assert np.isfinite(samples).all()
    assert np.array_equal(run.sample(100), samples)


@GPU
def test_a_cuda_run_resumes(tmp_path) -> None:
    run = tmp_path / "run"
    gankit.train(tiny(device="cuda", checkpoint_every=20), out=run)
    (run / "checkpoints" / "step-00000040.safetensors").unlink()
    resumed = gankit.resume(run)
    assert resumed.config.device == "cuda"
    assert np.isfinite(resumed.sample(100)).all()


@GPU
def test_a_table_trains_resumes_and_samples_its_condition_after_cuda(tmp_path) -> None:
    out = tmp_path / "penguins"
    assert main(["train", "--out", str(out), "data=penguins", "device=cuda", *SHORT]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["quality"] <= 1
    assert summary["unseen_categories"] == summary["out_of_range"] == summary["non_integers"] == 0
    rows = gankit.load(out).sample(300, condition={"species": "Gentoo"})  # on the CPU
    assert len(rows) == 300 and set(rows["species"]) == {"Gentoo"}
    (out / "checkpoints" / "step-00000120.safetensors").unlink()  # killed after step 60
    assert main(["train", "--resume", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["resumed_from"] == 60


@GPU
@pytest.mark.parametrize(
    "settings", [TINY, TINY_DIGITS, TINY_PENGUINS], ids=["mlp", "dcgan", "table"]
)
def test_a_population_trains_and_resumes_on_cuda(settings, tmp_path, monkeypatch) -> None:
    """On CUDA a population shares its draws by default (population.draws=auto)."""
    settings = {**settings, "device": "cuda", "population.seeds": 3}
    train_killed_at_step_25(settings, tmp_path / "p", monkeypatch)
    resumed = gankit.resume(tmp_path / "p")
    assert [run.summary()["resumed_from"] for run in resumed.runs] == [20, 20, 20]
    assert all(run.summary()["step"] == 40 for run in resumed.runs)
    assert len(resumed.runs[2].sample(50)) == 50
