"""Downstream classifiers: how well does a model trained on some images classify real ones?

The yardstick of synthetic data is the classifier it makes. Each classifier here fits on a
set of labelled images ((n, C, H, W) in [-1, 1]) and predicts classes of others:

- ``logistic``: multinomial logistic regression on the pixels (scikit-learn);
- ``boosting``: histogram gradient boosting on the pixels (scikit-learn);
- ``cnn``: a small convolutional network, trained for a fixed number of Adam steps whatever
  the training set's size, so that a bigger (augmented) set buys variety, not more steps.

:func:`shifted_copies` is the classic augmentation the synthetic data competes with: copies
of the real images moved by up to ``max_shift`` pixels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from torch import Tensor, nn

from gankit.supervised import fit

Predictor = Callable[[Tensor], np.ndarray]

CNN_STEPS = 500
CNN_BATCH = 64


def fit_logistic(images: Tensor, labels: Tensor, num_classes: int, seed: int) -> Predictor:
    model = LogisticRegression(max_iter=2000, random_state=seed)
    model.fit(_flat(images), labels.numpy())
    return lambda x: model.predict(_flat(x))


def fit_boosting(images: Tensor, labels: Tensor, num_classes: int, seed: int) -> Predictor:
    model = HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=seed)
    model.fit(_flat(images), labels.numpy())
    return lambda x: model.predict(_flat(x))


class SmallCNN(nn.Module):
    """Two 3x3 convolutions, a pooling to 4x4 and two linear layers, for images of any size."""

    def __init__(self, channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Dropout(0.3), nn.Linear(32 * width, 128), nn.ReLU(), nn.Linear(128, num_classes)
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images))


def fit_cnn(images: Tensor, labels: Tensor, num_classes: int, seed: int) -> Predictor:
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # seed the weights and dropout; leave the caller's stream
        torch.manual_seed(seed)
        model = SmallCNN(images.shape[1], num_classes)
        batches = (
            torch.randint(len(images), (CNN_BATCH,), generator=generator) for _ in range(CNN_STEPS)
        )
        fit(
            model,
            lambda rows: F.cross_entropy(model(images[rows]), labels[rows]),
            batches,
            lr=2e-3,
            weight_decay=1e-4,
            name="CNN",
        )

    @torch.no_grad()
    def predict(x: Tensor) -> np.ndarray:
        return torch.cat([model(chunk).argmax(1) for chunk in x.split(1024)]).numpy()

    return predict


CLASSIFIERS: dict[str, Callable[[Tensor, Tensor, int, int], Predictor]] = {
    "logistic": fit_logistic,
    "cnn": fit_cnn,
    "boosting": fit_boosting,
}


def train_and_score(
    classifier: str,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    num_classes: int,
    seed: int,
) -> dict[str, float]:
    """Fit ``classifier`` on the (images, labels) of ``train``; its accuracy and macro-F1 on
    ``test``."""
    predict = CLASSIFIERS[classifier](*train, num_classes, seed)
    truth = test[1].numpy()
    predicted = predict(test[0])
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        # macro-F1: the F1 of each class, averaged with equal weights
        "macro_f1": float(
            f1_score(truth, predicted, average="macro", labels=np.arange(num_classes))
        ),
    }


def shifted_copies(
    images: Tensor, labels: Tensor, count: int, generator: torch.Generator, max_shift: int = 1
) -> tuple[Tensor, Tensor]:
    """``count`` copies of random images, each moved by a random (dy, dx) in
    [-max_shift, max_shift]^2, not (0, 0); the uncovered border takes the background value
    -1."""
    rows = torch.randint(len(images), (count,), generator=generator)
    offsets = [
        (dy, dx)
        for dy in range(-max_shift, max_shift + 1)
        for dx in range(-max_shift, max_shift + 1)
    ]
    offsets.remove((0, 0))
    choice = torch.randint(len(offsets), (count,), generator=generator)
    pad = max_shift
    padded = F.pad(images[rows], (pad, pad, pad, pad), value=-1.0)
    height, width = images.shape[2:]
    moved = torch.empty_like(images[rows])
    for index, (dy, dx) in enumerate(offsets):
        chosen = choice == index
        moved[chosen] = padded[chosen, :, pad - dy : pad - dy + height, pad - dx : pad - dx + width]
    return moved, labels[rows]


def _flat(images: Tensor) -> np.ndarray:
    return images.reshape(len(images), -1).numpy()
