"""Samples corrected by D: with the exact D* of a 1D problem, every method turns G's samples
into samples of p_data, which plain G's are not."""

import numpy as np
import pytest
import torch
from scipy import stats

from gankit.config import NoiseConfig
from gankit.errors import GankitError
from gankit.sampling import RefineSettings, rejection
from gankit.sampling.calibration import calibration_error, fit_calibration
from gankit.sampling.langevin import latent_langevin
from gankit.sampling.metropolis import metropolis_hastings
from gankit.sampling.rejection import discriminator_rejection
from gankit.theory.problems import BIMODAL

N = 2000
SCALE = 2.0  # G(z) = 2 z: p_g = N(0, 2^2), wide enough to cover both modes of p_data
NOISE = NoiseConfig(dim=1)


def generator(z: torch.Tensor, labels=None) -> torch.Tensor:
    return SCALE * z


def exact_logit(x: torch.Tensor, labels=None) -> torch.Tensor:
    """l*(x) = log p_data(x) - log p_g(x), the logit of D*."""
    log_p_g = torch.distributions.Normal(0.0, SCALE).log_prob(x[:, 0].double())
    return (BIMODAL.log_prob(x.double()) - log_p_g).float()


def propose_from(rng: torch.Generator):
    def propose(wanted):
        count = wanted if isinstance(wanted, int) else len(wanted)
        return generator(torch.randn(count, 1, generator=rng))

    return propose


def data_cdf(x: np.ndarray) -> np.ndarray:
    means, stds = BIMODAL.means[:, 0].numpy(), BIMODAL.stds[:, 0].numpy()
    weights = BIMODAL.weights.numpy()
    return sum(w * stats.norm.cdf(x, m, s) for w, m, s in zip(weights, means, stds, strict=True))


def matches_p_data(samples: torch.Tensor) -> bool:
    """A Kolmogorov-Smirnov test against p_data's exact CDF at the 1% level."""
    return stats.kstest(samples[:, 0].numpy(), data_cdf).pvalue > 0.01


def test_plain_g_fails_the_test_the_methods_pass() -> None:
    assert not matches_p_data(propose_from(torch.Generator().manual_seed(0))(N))


def test_exact_rejection_by_d_star_samples_p_data() -> None:
    rng = torch.Generator().manual_seed(1)
    settings = RefineSettings(gamma=0.0)
    samples, report = discriminator_rejection(
        propose_from(rng), exact_logit, N, None, rng, settings
    )
    assert samples.shape == (N, 1)
    assert matches_p_data(samples)
    assert 0 < report["acceptance_rate"] < 1


def test_rejection_that_accepts_too_few_says_how_many_and_what_to_lower(monkeypatch) -> None:
    """Where max p_data/p_g is huge (a steep D), exact rejection accepts almost nothing: the
    error counts what it accepted and names the setting that accepts more."""
    monkeypatch.setattr(rejection, "MAX_ROUNDS", 2)
    rng = torch.Generator().manual_seed(4)

    def steep(x: torch.Tensor, labels=None) -> torch.Tensor:
        return 30 * x[:, 0]

    for settings, fix in (
        (RefineSettings(gamma=0.0), "give a lower --gamma"),
        (RefineSettings(), "lower --percentile"),
    ):
        with pytest.raises(
            GankitError, match=rf"accepted only \d+ of {N} samples in 2 rounds .*{fix}"
        ):
            discriminator_rejection(propose_from(rng), steep, N, None, rng, settings)


def test_drs_at_a_percentile_accepts_more_and_moves_toward_p_data() -> None:
    rng = torch.Generator().manual_seed(2)
    exact = discriminator_rejection(
        propose_from(rng), exact_logit, N, None, rng, RefineSettings(gamma=0.0)
    )[1]
    samples, report = discriminator_rejection(
        propose_from(rng), exact_logit, N, None, rng, RefineSettings(percentile=50)
    )
    assert report["acceptance_rate"] > exact["acceptance_rate"]
    plain = propose_from(rng)(N)
    distance = stats.kstest(samples[:, 0].numpy(), data_cdf).statistic
    assert distance < stats.kstest(plain[:, 0].numpy(), data_cdf).statistic / 2


def test_metropolis_hastings_from_real_starts_samples_p_data() -> None:
    rng = torch.Generator().manual_seed(3)
    real = BIMODAL.sample(N, rng).float()
    samples, report = metropolis_hastings(
        propose_from(rng), exact_logit, real, N, None, None, rng, RefineSettings(chain=20)
    )
    assert samples.shape == (N, 1)
    assert matches_p_data(samples)
    assert not any((samples == r).all() for r in real[:50])  # G's samples, not the real starts
    assert 0 < report["acceptance_rate"] < 1


def test_langevin_on_the_noise_samples_p_data() -> None:
    rng = torch.Generator().manual_seed(4)
    settings = RefineSettings(steps=300, step_size=0.05, metropolis=True)
    samples, report = latent_langevin(generator, exact_logit, NOISE, N, None, rng, settings)
    assert samples.shape == (N, 1)
    assert matches_p_data(samples)
    assert 0.5 < report["acceptance_rate"] <= 1


def test_an_automatic_step_size_suits_a_steep_d() -> None:
    """Modes 0.02 wide: l*(G(z)) is steep in z, and unadjusted steps of 0.01 scatter the samples
    (here, far enough to overflow). The automatic step, tuned until the Metropolis test it
    skips would accept 90% of the moves, gathers them in the modes; with the test, tuned towards
    MALA's 0.574, as well."""
    means, std = torch.tensor([-1.0, 1.0]), 0.02

    def steep_logit(x: torch.Tensor, labels=None) -> torch.Tensor:
        x = x[:, 0].double()
        modes = torch.distributions.Normal(means.double(), std, validate_args=False)
        log_p_data = torch.logsumexp(modes.log_prob(x[:, None]), dim=1) - np.log(2)
        return (log_p_data + x**2 / (2 * SCALE**2)).float()  # - log p_g(x), but a constant

    def in_a_mode(samples: torch.Tensor) -> float:
        distance = (samples[:, 0, None] - means).abs().min(dim=1).values
        return float((distance < 3 * std).float().mean())

    shares, reports = [], []
    for step_size, metropolis in ((0.01, False), ("auto", False), ("auto", True)):
        rng = torch.Generator().manual_seed(7)
        settings = RefineSettings(steps=50, step_size=step_size, metropolis=metropolis)
        samples, report = latent_langevin(generator, steep_logit, NOISE, N, None, rng, settings)
        shares.append(in_a_mode(samples))
        reports.append(report)
    assert shares[0] < 0.5 and shares[1] > 0.98 and shares[2] > 0.98
    assert reports[0]["step_size"] == 0.01
    assert reports[1]["step_size"] < reports[2]["step_size"] < 0.001  # tuned down 10x and more
    assert 0.45 < reports[2]["acceptance_rate"] < 0.65


def test_conditional_refinement_keeps_each_class() -> None:
    """Class c's proposals come from N(4c, 1); a method must return each position's class."""
    rng = torch.Generator().manual_seed(5)
    labels = torch.arange(300) % 3

    def propose(wanted):
        return (4.0 * wanted.float() + torch.randn(len(wanted), generator=rng))[:, None]

    def logit(x, wanted):
        return -((x[:, 0] - 4.0 * wanted.float()) ** 2)  # prefers each class's centre

    for samples, _ in (
        discriminator_rejection(propose, logit, 300, labels, rng, RefineSettings(burn_in=300)),
        metropolis_hastings(
            propose, logit, propose(labels), 300, labels, labels, rng, RefineSettings()
        ),
    ):
        assert ((samples[:, 0] - 4.0 * labels.float()).abs() < 4).all()


def test_calibration_fixes_an_overconfident_d() -> None:
    rng = torch.Generator().manual_seed(6)
    real = 5 * (torch.randn(4000, generator=rng) + 0.5)  # true logit: x / 5, shown five times
    fake = 5 * (torch.randn(4000, generator=rng) - 0.5)
    for method in ("isotonic", "logistic"):
        calibrate, quality = fit_calibration(real, fake, method)
        assert quality["log_loss_calibrated"] < quality["log_loss_raw"]
        assert quality["calibration_error_calibrated"] < 0.05 < quality["calibration_error_raw"]
        assert torch.isfinite(calibrate(torch.tensor([-1e3, 0.0, 1e3]))).all()
    probabilities = np.array([0.9, 0.9, 0.1, 0.1])
    assert calibration_error(probabilities, np.array([1, 1, 0, 0])) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (RefineSettings(percentile=0), "percentile must be in \\(0, 100\\)"),
        (RefineSettings(percentile=100), "percentile must be in \\(0, 100\\)"),
        (RefineSettings(chain=0), "chain length must be at least 1"),
        (RefineSettings(step_size=0), "step size must be positive, or auto"),
        (RefineSettings(steps=0), "steps must be at least 1"),
    ],
)
def test_bad_settings_are_refused_in_one_line(settings, message) -> None:
    with pytest.raises(GankitError, match=message):
        settings.check()
