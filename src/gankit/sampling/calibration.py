"""Calibrating D: mapping its logits to the probability that a sample is real, fitted on
held-out real samples and fresh fakes in equal numbers (the prior 1/2 that D* assumes).

Half of the scored samples fit the map (scikit-learn's isotonic or logistic regression), the
other half measure it: log-loss and the expected calibration error (ECE, ten equal-width bins)
of D's own sigmoid and of the calibrated map.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

CLIP = 1e-6  # calibrated probabilities stay inside (0, 1), so their logits stay finite
BINS = 10

Calibration = Callable[[Tensor], Tensor]
"""D's raw logits to calibrated logits."""


def fit_calibration(
    real_logits: Tensor, fake_logits: Tensor, method: str
) -> tuple[Calibration, dict[str, Any]]:
    """The map from D's logits to calibrated logits, and how well each calibrates."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    logits = torch.cat([real_logits, fake_logits]).double().numpy()
    targets = np.r_[np.ones(len(real_logits)), np.zeros(len(fake_logits))]
    order = np.random.default_rng(0).permutation(len(logits))
    fit_part, test_part = order[: len(order) // 2], order[len(order) // 2 :]
    if method == "isotonic":
        model = IsotonicRegression(y_min=CLIP, y_max=1 - CLIP, out_of_bounds="clip")
        model.fit(logits[fit_part], targets[fit_part])

        def probability(values: np.ndarray) -> np.ndarray:
            return model.predict(values)

    else:
        model = LogisticRegression()
        model.fit(logits[fit_part, None], targets[fit_part])

        def probability(values: np.ndarray) -> np.ndarray:
            return model.predict_proba(values[:, None])[:, 1]

    def calibrated(values: Tensor) -> Tensor:
        p = np.clip(probability(values.double().numpy()), CLIP, 1 - CLIP)
        return torch.from_numpy(np.log(p) - np.log1p(-p))

    raw = 1 / (1 + np.exp(-logits[test_part]))
    fitted = np.clip(probability(logits[test_part]), CLIP, 1 - CLIP)
    quality = {
        "log_loss_raw": log_loss(raw, targets[test_part]),
        "log_loss_calibrated": log_loss(fitted, targets[test_part]),
        "calibration_error_raw": calibration_error(raw, targets[test_part]),
        "calibration_error_calibrated": calibration_error(fitted, targets[test_part]),
    }
    return calibrated, quality


def log_loss(probability: np.ndarray, target: np.ndarray) -> float:
    """Mean -[y log p + (1 - y) log(1 - p)]."""
    p = np.clip(probability, CLIP, 1 - CLIP)
    return float(-(target * np.log(p) + (1 - target) * np.log1p(-p)).mean())


def calibration_error(probability: np.ndarray, target: np.ndarray) -> float:
    """ECE: the mean over ten equal-width bins of |mean p - share real|, weighted by count."""
    bins = np.minimum((probability * BINS).astype(int), BINS - 1)
    error = 0.0
    for index in range(BINS):
        chosen = bins == index
        if chosen.any():
            error += chosen.mean() * abs(probability[chosen].mean() - target[chosen].mean())
    return float(error)
