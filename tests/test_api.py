import numpy as np
from conftest import tiny

import gankit


def test_train_sample_load_roundtrip(tmp_path) -> None:
    run = gankit.train(tiny(data="grid25"), out=tmp_path / "run")
    samples = run.sample(300, seed=4)
    assert samples.shape == (300, 2)
    assert samples.dtype == np.float32
    loaded = gankit.load(tmp_path / "run")
    assert np.array_equal(loaded.sample(300, seed=4), samples)
    assert loaded.config == run.config
    metrics = loaded.evaluate()
    assert set(metrics) >= {"modes", "high_quality", "reverse_kl", "frechet", "log_likelihood"}


def test_user_vectors_come_back_in_their_own_units(tmp_path) -> None:
    data = np.random.default_rng(0).normal([100.0, -50.0], [10.0, 1.0], size=(500, 2))
    path = tmp_path / "records.npy"
    np.save(path, data.astype(np.float32))
    run = gankit.train(tiny(data=str(path), steps=200), out=tmp_path / "run")
    samples = run.sample(2000)
    assert np.allclose(samples.mean(0), [100.0, -50.0], atol=[5.0, 0.5])
    assert "modes" not in run.evaluate()  # no known density: no mode metrics
