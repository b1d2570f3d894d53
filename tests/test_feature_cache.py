"""The feature network's cache: trained once and read back; a file of another recipe or data
set is never used; a damaged file is trained again over, with a one-line warning."""

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save

from gankit.config import load_config
from gankit.data import ImageData, load_data
from gankit.metrics import features


def tiny_images(folder: Path, seed: int) -> ImageData:
    """60 labelled 8x8 images of noise in 3 classes: enough to train the network on."""
    rng = np.random.default_rng(seed)
    path = folder / f"tiny{seed}.npz"
    np.savez(path, images=rng.integers(0, 256, (60, 8, 8), np.uint8), labels=np.arange(60) % 3)
    return load_data(load_config(overrides=[f"data={path}"]))


class Trainings:
    """Counts the feature networks trained."""

    def __init__(self) -> None:
        self.count = 0
        self.fit = features._fit

    def __call__(self, *args: object) -> features.FeatureNet:
        self.count += 1
        return self.fit(*args)


@pytest.fixture
def trainings(monkeypatch, tmp_path) -> Iterator[Trainings]:
    """An empty cache in tmp_path, nothing in memory, 2 epochs (the numbers do not matter)."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(features, "_LOADED", {})
    monkeypatch.setattr(features, "EPOCHS", 2)
    counter = Trainings()
    monkeypatch.setattr(features, "_fit", counter)
    yield counter


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings logged so far (the "training" line is INFO, once the CLI sets INFO)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def from_disk(data: ImageData) -> features.FeatureSpace:
    """feature_space with the in-memory copy forgotten, as in a new process."""
    features._LOADED.clear()
    return features.feature_space(data)


def test_the_network_is_trained_once_then_read_from_disk(trainings, tmp_path, caplog) -> None:
    data = tiny_images(tmp_path, seed=0)
    trained = features.feature_space(data)
    assert trainings.count == 1
    assert trained.path.name == f"features-tiny0-{data.fingerprint()}-cnn-v1.safetensors"
    assert features.feature_space(data) is trained and trainings.count == 1  # from memory
    loaded = from_disk(data)
    assert trainings.count == 1 and not warnings(caplog)
    assert (loaded.task, loaded.accuracy, loaded.path) == (
        "classes",
        trained.accuracy,
        trained.path,
    )
    assert torch.equal(loaded.embed(data.images), trained.embed(data.images))


def test_a_network_of_another_recipe_or_data_set_is_not_used(
    trainings, tmp_path, monkeypatch
) -> None:
    data = tiny_images(tmp_path, seed=0)
    with monkeypatch.context() as old:
        old.setattr(features, "RECIPE", "cnn-v0")
        stale = features.feature_space(data).path
    stale_bytes = stale.read_bytes()
    current = from_disk(data)
    assert trainings.count == 2 and current.path != stale
    assert stale.read_bytes() == stale_bytes  # left alone, never read
    other = tiny_images(tmp_path, seed=1)
    assert from_disk(other).path not in (stale, current.path)
    assert trainings.count == 3
    assert not torch.equal(from_disk(other).embed(data.images), current.embed(data.images))


METADATA = {"task": "classes", "accuracy": "0.9", "recipe": "cnn-v1"}
DAMAGES = {  # what a crash, a full disk or another program could leave at the cache path
    "garbage": lambda good, weights: b"not a safetensors file at all",
    "truncated": lambda good, weights: good[: len(good) // 2],
    "empty": lambda good, weights: b"",
    "no metadata": lambda good, weights: save(weights),
    "other shapes": lambda good, weights: save({"body.0.weight": torch.zeros(3)}, METADATA),
    "bad accuracy": lambda good, weights: save(weights, {**METADATA, "accuracy": "high"}),
    "another recipe": lambda good, weights: save(weights, {**METADATA, "recipe": "cnn-v0"}),
    "another task": lambda good, weights: save(weights, {**METADATA, "task": "rotations"}),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_cache_file_is_trained_again_with_a_warning(
    trainings, tmp_path, caplog, damage
) -> None:
    data = tiny_images(tmp_path, seed=0)
    space = features.feature_space(data)
    space.path.write_bytes(DAMAGES[damage](space.path.read_bytes(), space.net.state_dict()))
    with caplog.at_level(logging.WARNING, logger="gankit.metrics.features"):
        again = from_disk(data)
    assert trainings.count == 2
    (message,) = warnings(caplog)
    assert "\n" not in message
    assert f"cannot use the cached feature network {space.path}" in message
    assert message.endswith("training it again")
    # the new network replaced the damaged file: the next process reads it, trains nothing
    assert from_disk(data).accuracy == again.accuracy and trainings.count == 2


def test_an_unwritable_cache_keeps_the_network_in_memory_only(
    trainings, tmp_path, monkeypatch, caplog
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("the cache folder's place is taken")
    monkeypatch.setenv("GANKIT_CACHE", str(blocked))
    with caplog.at_level(logging.WARNING, logger="gankit.metrics.features"):
        space = features.feature_space(tiny_images(tmp_path, seed=0))
    assert space.path is None and trainings.count == 1
    (message,) = warnings(caplog)
    assert message.startswith("cannot cache the feature network")
