from collections.abc import Iterator

import pytest
import torch

from gankit.threads import torch_threads


@pytest.fixture(autouse=True)
def _seeded_single_thread() -> Iterator[None]:
    """Every test starts from the same seed, on one torch thread (fastest for these sizes)."""
    torch.manual_seed(0)
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def private_feature_cache(tmp_path_factory) -> Iterator[None]:
    """Image metrics' feature networks trained, once per module, in a temporary cache rather
    than the user's (``pytestmark = pytest.mark.usefixtures("private_feature_cache")``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def tiny(**overrides: object) -> dict:
    """A config small enough for a unit test to train in about a second."""
    settings = {
        "steps": 40,
        "batch_size": 64,
        "log_every": 10,
        "eval_every": 20,
        "eval_samples": 500,
        "progress": False,
        "generator.hidden": [32, 32],
        "discriminator.hidden": [32, 32],
    }
    settings.update(overrides)
    return settings
