"""The feature space of the image metrics: a small CNN classifier trained on the data set.

InceptionV3 features (FID's) describe ImageNet photographs, not 8x8 digits or a user's own
small images, and need weights from outside. Instead, each data set gets its own classifier,
trained once on its real training split (all of it, whatever subset a run trains on) and
scored on the held-out images; its 128-unit penultimate layer is the feature space, and
its predictions score conditional samples. Unlabelled data trains it to tell which of four
rotations an image was given (Gidaris et al. 2018), so it still learns image features.

The trained network is cached in safetensors under the user cache directory
(``$GANKIT_CACHE``, else ``$XDG_CACHE_HOME/gankit``, else ``~/.cache/gankit``), keyed by a
hash of the training split, so every run and evaluation on the same data uses the same one.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import Tensor, nn

from gankit.data.images import ImageData
from gankit.files import write_atomically

INCEPTION_UNAVAILABLE = (
    "InceptionV3 features are not available: the libraries that read pytorch-fid and "
    "torch-fidelity weight files build the network with torchvision, which gankit does not "
    "use; gankit's metrics use a classifier trained on the data set instead (see README)"
)

FEATURES = 128
RECIPE = "cnn-v1"  # bump when the network or its training changes: old caches are then unused
EPOCHS, BATCH, LEARNING_RATE, SEED = 30, 64, 1e-3, 0


class FeatureNet(nn.Module):
    """Conv blocks (3x3, ReLU, 3x3, ReLU, 2x2 max-pool) down to 4x4, that map flattened, a
    128-unit linear layer (the features), then ReLU, dropout and the classifier."""

    def __init__(self, channels: int, resolution: int, outputs: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size, c_in, c_out = resolution, channels, width
        while size > 4:
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            size, c_in, c_out = size // 2, c_out, min(2 * c_out, 256)
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.features = nn.Linear(c_in * 16, FEATURES)
        self.classify = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(FEATURES, outputs))

    def embed(self, x: Tensor) -> Tensor:
        """The 128 features of images x (n, C, H, W) in [-1, 1]."""
        return self.features(self.body(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.classify(self.embed(x))


@dataclass
class FeatureSpace:
    """A trained :class:`FeatureNet`, its task and its accuracy on the held-out images."""

    net: FeatureNet
    task: str  # "classes" or "rotations"
    accuracy: float
    path: Path | None  # where it is cached

    @torch.no_grad()
    def embed(self, images: Tensor) -> Tensor:
        """(n, 128) features of images (n, C, H, W) in [-1, 1]."""
        return torch.cat([self.net.embed(batch) for batch in images.split(1024)])

    @torch.no_grad()
    def predict(self, images: Tensor) -> Tensor:
        """The class the network sees in each image."""
        return torch.cat([self.net(batch).argmax(1) for batch in images.split(1024)])


_LOADED: dict[str, FeatureSpace] = {}


def cache_dir() -> Path:
    """Where trained feature networks are kept."""
    if os.environ.get("GANKIT_CACHE"):
        return Path(os.environ["GANKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gankit"


def feature_space(data: ImageData) -> FeatureSpace:
    """The data set's feature network: from memory, from the cache, or trained now (once)."""
    path = cache_dir() / f"features-{data.name}-{data.fingerprint()}-{RECIPE}.safetensors"
    key = str(path)
    if key not in _LOADED:
        _LOADED[key] = _load(path, data) or _train_and_cache(path, data)
    return _LOADED[key]


def _new_net(data: ImageData, task: str) -> FeatureNet:
    outputs = data.num_classes if task == "classes" else 4
    return FeatureNet(data.shape[0], data.shape[1], outputs)


def _load(path: Path, data: ImageData) -> FeatureSpace | None:
    if not path.is_file():
        return None
    try:
        with safe_open(path, framework="pt") as file:
            metadata = file.metadata()
            tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118
        net = _new_net(data, metadata["task"])
        net.load_state_dict(tensors)
    except (SafetensorError, OSError, KeyError, RuntimeError):
        return None  # unreadable or stale: train a new one over it
    return FeatureSpace(net.eval(), metadata["task"], float(metadata["accuracy"]), path)


def _train_and_cache(path: Path, data: ImageData) -> FeatureSpace:
    task = "classes" if data.num_classes else "rotations"
    print(
        f"gankit: training the {data.name} feature network for the metrics "
        f"(once; cached in {path.parent})",
        file=sys.stderr,
    )
    net = _fit(data, task, *_task(data.split_images, data.split_labels, task))
    test_images, test_labels = _task(data.heldout_images, data.heldout_labels, task)
    space = FeatureSpace(net.eval(), task, 0.0, None)
    space.accuracy = float((space.predict(test_images) == test_labels).float().mean())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {"task": task, "accuracy": str(space.accuracy), "recipe": RECIPE}
        # whole or not at all: processes that train it at once never read half a file
        write_atomically(path, save(net.state_dict(), metadata=metadata))
        space.path = path
    except OSError as error:
        print(f"gankit: cannot cache the feature network ({error.strerror})", file=sys.stderr)
    return space


def _task(images: Tensor, labels: Tensor, task: str) -> tuple[Tensor, Tensor]:
    """The classifier's inputs and targets: the images and classes, or the 4 rotations."""
    if task == "classes":
        return images, labels
    rotated = [torch.rot90(images, quarter, dims=(2, 3)) for quarter in range(4)]
    targets = torch.arange(4).repeat_interleave(len(images))
    return torch.cat(rotated), targets


def _fit(data: ImageData, task: str, images: Tensor, labels: Tensor) -> FeatureNet:
    """A new FeatureNet, Adam with weight decay, EPOCHS passes in seeded random order."""
    rng = torch.Generator().manual_seed(SEED)
    with torch.random.fork_rng():
        torch.manual_seed(SEED)  # initial weights and dropout, whatever the caller's seed
        net = _new_net(data, task)
        optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
        for _ in range(EPOCHS):
            for rows in torch.randperm(len(images), generator=rng).split(BATCH):
                loss = F.cross_entropy(net(images[rows]), labels[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    return net.eval()
