"""The Frechet distance between Gaussians fitted to two sets of vectors (as in FID)."""

from __future__ import annotations

import numpy as np
from scipy import linalg


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """||mu_x - mu_y||^2 + Tr(S_x + S_y - 2 (S_x S_y)^(1/2)) for (n, d) arrays x and y."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mu_x, mu_y = x.mean(axis=0), y.mean(axis=0)
    cov_x = np.atleast_2d(np.cov(x, rowvar=False))
    cov_y = np.atleast_2d(np.cov(y, rowvar=False))
    covmean = linalg.sqrtm(cov_x @ cov_y)
    if not np.isfinite(covmean).all():
        # Singular product: regularise both covariances slightly, as pytorch-fid does.
        offset = np.eye(len(cov_x)) * 1e-6
        covmean = linalg.sqrtm((cov_x + offset) @ (cov_y + offset))
    covmean = np.real(covmean)
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(cov_x + cov_y - 2 * covmean))
