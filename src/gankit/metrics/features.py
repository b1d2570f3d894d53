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

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import Tensor, nn

from gankit.data.images import ImageData
from gankit.files import write_atomically
from gankit.supervised import fit

log = logging.getLogger(__name__)

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


def _task_name(data: ImageData) -> str:
    """What the network learns: the classes of labelled data, else the 4 rotations."""
    return "classes" if data.num_classes else "rotations"


def _new_net(data: ImageData, task: str) -> FeatureNet:
    outputs = data.num_classes if task == "classes" else 4
    return FeatureNet(data.shape[0], data.shape[1], outputs)


def _load(path: Path, data: ImageData) -> FeatureSpace | None:
    """The network cached at ``path``, or None when there is none or it cannot be used.

    A file that is there but unreadable (garbage, cut short, missing metadata, tensors of
    another shape, another recipe or task) is warned about and returned as None, so that a
    new network is trained and written over it: a damaged cache costs seconds of training,
    never a failed run.
    """
    if not path.is_file():
        return None
    task = _task_name(data)
    try:
        with safe_open(path, framework="pt") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118
        if (metadata.get("recipe"), metadata.get("task")) != (RECIPE, task):
            raise ValueError(f"not a {RECIPE} network for {task}")
        accuracy = float(metadata["accuracy"])
        net = _new_net(data, task)
        net.load_state_dict(tensors)
    except (SafetensorError, OSError, KeyError, RuntimeError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        log.warning(
            "cannot use the cached feature network %s (%s); training it again", path, reason
        )
        return None
    return FeatureSpace(net.eval(), task, accuracy, path)


def _train_and_cache(path: Path, data: ImageData) -> FeatureSpace:
    task = _task_name(data)
    log.info(
        "training the %s feature network for the metrics (once; cached in %s)",
        data.name,
        path.parent,
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
        log.warning("cannot cache the feature network (%s)", error.strerror)
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
        batches = (  # a new random order every epoch, drawn as the epoch starts
            rows
            for _ in range(EPOCHS)
            for rows in torch.randperm(len(images), generator=rng).split(BATCH)
        )
        fit(
            net,
            lambda rows: F.cross_entropy(net(images[rows]), labels[rows]),
            batches,
            lr=LEARNING_RATE,
            weight_decay=1e-4,
            name="feature network",
        )
    return net
