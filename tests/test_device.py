"""The device and precision settings; the CUDA tests run only where PyTorch sees a GPU."""

import numpy as np
import pytest
import torch
from conftest import tiny
from test_engine import make_trainer

import gankit
from gankit.errors import GankitError
from gankit.train import engine
from gankit.train.device import resolve_device

GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_auto_is_cuda_when_there_is_one_and_the_cpu_otherwise() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto", "fp32").type == expected
    assert resolve_device("cpu", "fp32").type == "cpu"


def test_everything_the_trainer_makes_is_on_its_device() -> None:
    trainer = make_trainer(device="cpu")
    tensors = [
        *trainer.generator.parameters(),
        *trainer.discriminator.parameters(),
        *trainer.sampling_generator.parameters(),
        trainer.sample_noise(3),
        trainer.data.sample(3, trainer.data_rng),
    ]
    assert {t.device.type for t in tensors} == {"cpu"}
    assert trainer.data_rng.device.type == trainer.noise_rng.device.type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_and_bf16_are_refused_without_a_gpu() -> None:
    with pytest.raises(GankitError, match="PyTorch sees no CUDA device"):
        resolve_device("cuda", "fp32")
    with pytest.raises(GankitError, match="precision=bf16 needs a CUDA device"):
        resolve_device("auto", "bf16")


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
