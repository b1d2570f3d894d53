"""Samples of G corrected by D.

The optimal discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)), so

    p_data(x) / p_g(x) = D*(x) / (1 - D*(x)) = exp(l*(x)),   l* the logit of D*.

A trained D close to D* therefore tells how to turn G's samples into samples of p_data: accept
or reject them (:mod:`~gankit.sampling.rejection`, DRS), walk a Markov chain over them
(:mod:`~gankit.sampling.metropolis`, MH-GAN), or move their noise toward where D says the data
is (:mod:`~gankit.sampling.langevin`, DDLS). Each method sees G and D through two functions:
``propose(labels)``, G's samples of fresh noise (one per label, or ``n`` when unconditional),
and ``logit(x, labels)``, D's logit; so the same code runs on a trained run and, in the tests
and ``gankit theory refine``, on exact densities. Every method returns exactly the samples asked
for, of the classes asked for, and a report of what it cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gankit.errors import GankitError

if TYPE_CHECKING:  # torch loads only when there is sampling to do, not for `gankit --help`
    from collections.abc import Callable

    from torch import Tensor

    Propose = Callable[[Tensor | int], Tensor]
    """Fresh samples of G: one per label in a tensor of labels, or that many when unconditional."""
    Logit = Callable[[Tensor, Tensor | None], Tensor]
    """D's logit l(x) of samples x (with their labels for a conditional D); log D/(1 - D)."""

METHODS = ("none", "drs", "mh", "langevin")


@dataclass
class RefineSettings:
    """The settings of the refinement methods (``gankit sample --refine METHOD``)."""

    percentile: float = 50.0
    """drs: gamma, the shift of the acceptance logit, is this percentile of F on the burn-in
    proposals; lower accepts more (closer to p_g), higher fewer (closer to exact rejection)."""
    gamma: float | None = None
    """drs: gamma itself, instead of a percentile; 0 is exact rejection sampling."""
    burn_in: int = 10_000
    """drs: proposals scored first to estimate max l (raised later when a proposal exceeds it)."""
    chain: int = 20
    """mh: proposals K in each sample's chain."""
    calibration: Literal["isotonic", "logistic"] = "isotonic"
    """mh: how D's outputs are calibrated on held-out real and fresh fake samples first."""
    steps: int = 50
    """langevin: Langevin steps on the noise."""
    step_size: float | Literal["auto"] = "auto"
    """langevin: eta in z <- z - eta/2 grad E(z) + sqrt(eta) N(0, I); "auto" tunes it in the
    first half of the steps (:func:`~gankit.sampling.langevin.latent_langevin`)."""
    metropolis: bool = False
    """langevin: accept each step by a Metropolis test (MALA) rather than always."""

    def check(self) -> None:
        """One line for a setting out of range."""
        if not 0 < self.percentile < 100:
            raise GankitError(
                f"the DRS percentile must be in (0, 100), e.g. 50; got {self.percentile}"
            )
        if self.burn_in < 1:
            raise GankitError(f"the DRS burn-in must be at least 1 proposal; got {self.burn_in}")
        if self.chain < 1:
            raise GankitError(f"the MH chain length must be at least 1; got {self.chain}")
        if self.steps < 1:
            raise GankitError(f"the Langevin steps must be at least 1; got {self.steps}")
        if self.step_size != "auto" and not self.step_size > 0:
            raise GankitError(
                f"the Langevin step size must be positive, or auto; got {self.step_size}"
            )
        if self.calibration not in ("isotonic", "logistic"):
            raise GankitError(
                f"the calibration must be isotonic or logistic; got {self.calibration!r}"
            )


def check_method(method: str) -> None:
    if method not in METHODS:
        raise GankitError(f"unknown refinement {method!r}; use one of {', '.join(METHODS)}")
