"""The Frechet distance between Gaussians fitted to two sets of vectors (as in FID)."""

from __future__ import annotations

import logging

import numpy as np
from scipy import linalg

log = logging.getLogger(__name__)

IMAGINARY_TOLERANCE = 1e-3
"""pytorch-fid's bound on |Im| of the diagonal of (S_x S_y)^(1/2), past which it refuses."""


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """||mu_x - mu_y||^2 + Tr(S_x + S_y - 2 (S_x S_y)^(1/2)) for (n, d) arrays x and y.

    (S_x S_y)^(1/2) is real in exact arithmetic (S_x S_y is similar to a positive
    semi-definite matrix), so scipy's complex square root only carries rounding error in its
    imaginary part, and the real part is used. Where the imaginary part of its diagonal (what
    enters the trace) exceeds 1e-3, pytorch-fid raises; here a warning is logged instead,
    naming that size, and the real part is still used: the metric is computed at the end of a
    finished training run, which a crash would throw away, and the warning says the value
    is numerically unreliable (too few samples for the dimension, as a rule).
    """
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
    if np.iscomplexobj(covmean):
        imaginary = float(np.abs(np.diagonal(covmean).imag).max())
        if imaginary > IMAGINARY_TOLERANCE:
            log.warning(
                "the Frechet distance is numerically unreliable: the matrix square root of "
                "S_x S_y has an imaginary part of up to %.3g on its diagonal (pytorch-fid "
                "refuses past %g); use more samples than feature dimensions",
                imaginary,
                IMAGINARY_TOLERANCE,
            )
        covmean = covmean.real
    return float(((mu_x - mu_y) ** 2).sum() + np.trace(cov_x + cov_y - 2 * covmean))
