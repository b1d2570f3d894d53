"""Mode coverage on Gaussian mixtures, as defined by PacGAN (Lin et al. 2018, section 5).

Each sample is assigned to its nearest mode (in that mode's standard deviations). It is
*high quality* when that distance sqrt(sum((x - mu)^2 / sigma^2)) is below 3. A mode is
*captured* when at least one high-quality sample is assigned to it. The *reverse KL* is
KL(q || p) between q, the histogram of modes over the high-quality samples, and p, the
mixture's weights (uniform for ring8 and grid25).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.mixtures import GaussianMixture

HIGH_QUALITY_RADIUS = 3.0


def mode_coverage(
    samples: Tensor, mixture: GaussianMixture, radius: float = HIGH_QUALITY_RADIUS
) -> dict[str, float | None]:
    """``modes`` captured, ``high_quality`` fraction and ``reverse_kl`` of ``samples`` (n, d).

    ``reverse_kl`` is None when no sample is high quality (the histogram q is undefined).
    """
    samples = torch.as_tensor(samples, dtype=torch.float64)
    scaled_distance = ((samples[:, None, :] - mixture.means) / mixture.stds).norm(dim=-1)
    distance, nearest = scaled_distance.min(dim=1)
    high_quality = distance < radius
    counts = torch.bincount(nearest[high_quality], minlength=mixture.num_modes).double()
    result: dict[str, float | None] = {
        "modes": int((counts > 0).sum()),
        "high_quality": float(high_quality.double().mean()),
        "reverse_kl": None,
    }
    if counts.sum() > 0:
        q = counts / counts.sum()
        present = q > 0
        log_ratio = (q[present] / mixture.weights[present]).log()
        result["reverse_kl"] = float((q[present] * log_ratio).sum())  # sum_k q_k log(q_k / p_k)
    return result
