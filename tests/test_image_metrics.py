"""Feature-space metrics: precision, recall, density and coverage against their definitions
(the Frechet distance and KID: test_frechet_kid.py)."""

import importlib

import numpy as np
import pytest
import torch

from gankit.metrics import prdc

prdc_module = importlib.import_module("gankit.metrics.prdc")


def brute_force_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The definitions, on full distance matrices."""
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    d_fr = np.linalg.norm(fake[:, None] - real[None], axis=-1)
    r_real = np.sort(d_rr, axis=1)[:, k]
    r_fake = np.sort(d_ff, axis=1)[:, k]
    inside = d_fr <= r_real[None, :]
    return {
        "precision": inside.any(1).mean(),
        "recall": (d_fr <= r_fake[:, None]).any(0).mean(),
        "density": inside.sum(1).mean() / k,
        "coverage": (d_fr.min(0) <= r_real).mean(),
    }


def test_prdc_in_chunks_matches_the_definitions(monkeypatch) -> None:
    monkeypatch.setattr(prdc_module, "CHUNK", 7)  # several chunks, a ragged last one
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 5)).astype(np.float32)
    fake = rng.normal(0.4, 1.3, size=(45, 5)).astype(np.float32)
    for k in (3, 5):
        expected = brute_force_prdc(real, fake, k)
        got = prdc(torch.from_numpy(real), torch.from_numpy(fake), k)
        assert got == pytest.approx(expected, abs=1e-6)


def test_prdc_of_the_real_set_against_itself() -> None:
    real = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    result = prdc(real, real, 5)
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0
    assert result["density"] >= 1.0


def test_prdc_of_two_gaussian_samples_matches_the_published_numbers() -> None:
    """8 to 10 s on a quiet 2-core machine (up to ~30 s when other jobs share it); the fast
    check of the same code on small sets is test_prdc_in_chunks_matches_the_definitions.

    Naeem et al.'s reference (the prdc package's README): 10,000 vs 10,000 samples of
    N(0, I) in 1,000 dimensions, k = 5 gave precision 0.4772, recall 0.4705, density 1.0555,
    coverage 0.9735. Over draws these move by a few hundredths (density by up to ~0.08:
    seeds 0, 1, 2 gave 0.91, 0.99, 1.07), so the tolerances are those of one draw."""
    rng = np.random.default_rng(1234)
    real = torch.from_numpy(rng.normal(size=(10_000, 1_000)).astype(np.float32))
    fake = torch.from_numpy(rng.normal(size=(10_000, 1_000)).astype(np.float32))
    result = prdc(real, fake, 5)
    assert result["precision"] == pytest.approx(0.4772, abs=0.03)
    assert result["recall"] == pytest.approx(0.4705, abs=0.03)
    assert result["density"] == pytest.approx(1.0555, abs=0.1)
    assert result["coverage"] == pytest.approx(0.9735, abs=0.02)
