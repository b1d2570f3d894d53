"""Refined samples of a trained G and D: the methods of :mod:`gankit.sampling` wired to networks
and data, and the calibration phase that trains D alone against the sampling G.

D at the end of training is D for the last G, not for the EMA copy that samples are drawn from,
and not D*. :func:`refine_discriminator` trains a D on L_D alone (the logistic loss, whatever
the run's objective), against the sampling G on fresh data, as ``gankit theory optimal-d`` does
against a fixed p_g; its held-out log-loss and calibration error say how close to D* it came.
That D is a copy of the run's for images and tables, and for vectors a fresh D on Fourier
features of the sample (:mod:`gankit.nets.fourier`), which resolves the ratio within a mode.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.data import ImageData, TableData, VectorData
from gankit.errors import GankitError
from gankit.evaluation import generate
from gankit.nets.fourier import FourierDiscriminator
from gankit.nets.prior import sample_prior
from gankit.objectives import discriminator_loss
from gankit.sampling import RefineSettings, check_method
from gankit.sampling.calibration import calibration_error, fit_calibration, log_loss
from gankit.sampling.langevin import latent_langevin
from gankit.sampling.metropolis import metropolis_hastings
from gankit.sampling.rejection import discriminator_rejection
from gankit.supervised import fit

LOGISTIC_LOSSES = ("nonsaturating", "minimax")
"""The objectives whose D estimates D*; others need a refined D to read as a density ratio."""
REAL_SAMPLES = 10_000  # held-out real samples for MH's starts and the calibration
REFINED_MODELS = ("auto", "copy", "fourier")
"""What ``refine-d`` trains: ``copy`` the run's D, ``fourier`` a fresh FourierDiscriminator
(vectors only), ``auto`` the second for vectors and the first otherwise."""
COPY_STEPS = 2000  # a copy of the run's D, at the run's batch size
# The Fourier D (measured on ring8 and grid25): octaves of wavelength 2 down to 2^-6 of the
# standardised data, three layers of 128, and its own Adam step size and budget, as it starts
# from scratch (5,000 steps of 256: about 20 s on one CPU thread).
FOURIER_LEVELS = 8
FOURIER_HIDDEN = (128, 128, 128)
FOURIER_LR = 1e-3
FOURIER_STEPS, FOURIER_BATCH = 5000, 256


@dataclass
class Networks:
    """The sampling G and the D that judges it, with what they need to draw and score."""

    config: Config
    generator: nn.Module
    discriminator: nn.Module
    num_classes: int
    refined: bool  # D trained alone against this G (refine_discriminator)

    def propose_with(self, rng: torch.Generator):
        """``propose(labels or count)``: G's samples of fresh noise from ``rng``."""

        def propose(wanted: Tensor | int) -> Tensor:
            count = wanted if isinstance(wanted, int) else len(wanted)
            z = sample_prior(count, self.config.noise, rng)
            seed = int(torch.randint(2**31, (1,), generator=rng))  # a table G's category draws
            return generate(self.generator, z, None if isinstance(wanted, int) else wanted, seed)

        return propose

    @torch.no_grad()
    def logit(self, x: Tensor, labels: Tensor | None) -> Tensor:
        return self.differentiable_logit(x, labels)

    def differentiable_logit(self, x: Tensor, labels: Tensor | None) -> Tensor:
        self.discriminator.eval()
        out = self.discriminator(x) if labels is None else self.discriminator(x, labels)
        return out.reshape(-1).float()

    def differentiable_generate(self, z: Tensor, labels: Tensor | None) -> Tensor:
        self.generator.eval()
        return self.generator(z) if labels is None else self.generator(z, labels)


def check_refinable(networks: Networks, method: str) -> None:
    """One line when this run's D cannot refine samples by ``method``."""
    check_method(method)
    if method == "none":
        return
    if networks.config.pack > 1 and not networks.refined:  # a refined D scores one sample
        raise GankitError(
            f"this run's D judges {networks.config.pack} samples at once (pack); refining "
            "needs a D that scores one sample: for vectors run `gankit refine-d RUN` first "
            "(it trains one), or train with pack=1"
        )
    if method != "mh" and not networks.refined and networks.config.loss not in LOGISTIC_LOSSES:
        raise GankitError(
            f"--refine {method} reads D's logit as log p_data/p_g, which a D trained with "
            f"loss={networks.config.loss} does not estimate; run `gankit refine-d RUN` first, "
            "or use --refine mh (which calibrates D)"
        )


def real_samples(
    data: VectorData | ImageData | TableData, count: int, seed: int
) -> tuple[Tensor, Tensor | None]:
    """Real samples in network units, with labels for images and tables: held-out images, a
    table's held-out rows encoded (each once per condition it has), fresh draws of a known
    density, or the points of a user's vector file (which has no held-out part)."""
    rng = torch.Generator().manual_seed(seed)
    if isinstance(data, ImageData):
        return data.heldout_images, data.heldout_labels
    if isinstance(data, TableData):
        return _table_rows(data.to("cpu"))
    cpu = data.to("cpu")
    return cpu.standardizer.forward(cpu.real_samples(count, rng)), None


def _table_rows(data: TableData) -> tuple[Tensor, Tensor | None]:
    """A table's held-out rows, encoded, paired with each condition they have; a condition no
    held-out row has (a rare category) is stood in for by its training rows."""
    rows = torch.from_numpy(data.transformer.transform(data.heldout))
    if not data.num_classes:
        return rows, None
    index, labels = data.conditioning.pairs(rows)
    absent = sorted(set(range(data.num_classes)) - set(labels.tolist()))
    extra = [data.rows_of(c) for c in absent]
    rows = torch.cat([rows[index], *extra])
    filled = [torch.full((len(r),), c) for c, r in zip(absent, extra, strict=True)]
    return rows, torch.cat([labels, *filled])


def refine(
    networks: Networks,
    data: VectorData | ImageData,
    n: int,
    seed: int,
    method: str,
    settings: RefineSettings,
    labels: Tensor | None = None,
) -> tuple[Tensor, Tensor | None, dict[str, Any]]:
    """n samples of G (network units) refined by ``method``, their classes, and a report of the
    method's acceptance rate and cost, with samples per second beside plain G.

    ``labels``: the class of each sample for a conditional G; default each class in turn.
    """
    settings.check()
    check_refinable(networks, method)
    rng = torch.Generator().manual_seed(seed)
    if labels is None and networks.num_classes:
        labels = torch.arange(n) % networks.num_classes
    propose = networks.propose_with(rng)
    started = time.perf_counter()
    plain = propose(labels if labels is not None else n)
    plain_seconds = time.perf_counter() - started
    report: dict[str, Any] = {"method": method}
    started = time.perf_counter()
    if method == "none":
        samples = plain
    elif method == "drs":
        samples, report_ = discriminator_rejection(
            propose, networks.logit, n, labels, rng, settings
        )
        report.update(report_)
    elif method == "mh":
        real, real_labels = real_samples(data, REAL_SAMPLES, seed)
        fake = propose(real_labels if real_labels is not None else len(real))
        calibrate, quality = fit_calibration(
            networks.logit(real, real_labels),
            networks.logit(fake, real_labels),
            settings.calibration,
        )

        def calibrated(x: Tensor, wanted: Tensor | None) -> Tensor:
            return calibrate(networks.logit(x, wanted)).float()

        samples, report_ = metropolis_hastings(
            propose, calibrated, real, n, labels, real_labels, rng, settings
        )
        report.update(report_)
        report.update({f"calibration/{key}": value for key, value in quality.items()})
    else:
        samples, report_ = latent_langevin(
            networks.differentiable_generate,
            networks.differentiable_logit,
            networks.config.noise,
            n,
            labels,
            rng,
            settings,
        )
        report.update(report_)
    seconds = time.perf_counter() - started
    report["samples_per_second"] = n / seconds if seconds > 0 else None
    report["plain_samples_per_second"] = n / plain_seconds if plain_seconds > 0 else None
    return samples.detach(), labels, report


def refine_discriminator(
    networks: Networks,
    data: VectorData | ImageData,
    steps: int | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    model: str = "auto",
) -> tuple[nn.Module, dict[str, Any]]:
    """A D trained alone on L_D against the sampling G, ``steps`` minibatches of ``batch_size``
    fresh real samples and as many fresh fakes; with its held-out log-loss and calibration error
    before (the run's D; None when it judges packs) and after. ``model``: one of
    :data:`REFINED_MODELS`. By default a copy of D takes 2,000 steps of the run's batch size, a
    Fourier D 5,000 steps of 256.

    The learning rate falls linearly to zero over the steps: with G fixed, L_D has one
    minimiser, D*, and a step size that decays lets Adam settle on it instead of hovering at
    the noise level of the minibatches (on a grid25 run the reverse KL of MH's samples fell
    sixfold).
    """
    model = refined_model(model, data)
    config = networks.config
    fourier = model == "fourier"
    if fourier:
        default_steps, default_batch, lr = FOURIER_STEPS, FOURIER_BATCH, FOURIER_LR
    else:
        default_steps, default_batch, lr = COPY_STEPS, config.batch_size, config.discriminator.lr
    steps = default_steps if steps is None else steps
    batch_size = default_batch if batch_size is None else batch_size
    if steps < 1:
        raise GankitError(f"--steps must be at least 1; got {steps}")
    if batch_size < 1:
        raise GankitError(f"--batch-size must be at least 1; got {batch_size}")
    rng = torch.Generator().manual_seed(seed)
    train = data.to("cpu")
    propose = networks.propose_with(rng)

    def batches():
        for _ in range(steps):
            if networks.num_classes:
                real, labels = train.sample_labelled(batch_size, rng)
            else:
                real, labels = train.sample(batch_size, rng), None
            yield real, labels, propose(labels if labels is not None else batch_size)

    def loss(batch: tuple[Tensor, Tensor | None, Tensor]) -> Tensor:
        real, labels, fake = batch
        if labels is None:
            return discriminator_loss(discriminator(real), discriminator(fake))  # L_D
        return discriminator_loss(discriminator(real, labels), discriminator(fake, labels))

    packed = config.pack > 1  # the run's D gives no score to one sample
    if packed and not fourier:
        raise GankitError(
            f"this run's D judges {config.pack} samples at once (pack), and so would a copy of "
            "it; refining needs a D that scores one sample: use --model fourier (vector data) "
            "or train with pack=1"
        )
    before = {"log_loss": None, "calibration_error": None}
    if not packed:
        before = _held_out_quality(networks, data, seed + 1)
    with torch.random.fork_rng():  # D's init, dropout, a table G's category draws: by ``seed``
        torch.manual_seed(seed)
        if fourier:
            discriminator = FourierDiscriminator(
                data.dim, FOURIER_HIDDEN, FOURIER_LEVELS, networks.num_classes
            )
        else:
            discriminator = copy.deepcopy(networks.discriminator).float()
        fit(
            discriminator,
            loss,
            batches(),
            lr=lr,
            lr_factor=lambda step: 1 - step / steps,
            name="discriminator",
        )
    refined = Networks(config, networks.generator, discriminator, networks.num_classes, True)
    after = _held_out_quality(refined, data, seed + 1)
    return discriminator, {
        "refine_d/model": model,
        "refine_d/steps": steps,
        "refine_d/batch_size": batch_size,
        "refine_d/log_loss_before": before["log_loss"],
        "refine_d/log_loss": after["log_loss"],
        "refine_d/calibration_error_before": before["calibration_error"],
        "refine_d/calibration_error": after["calibration_error"],
    }


def refined_model(model: str, data: VectorData | ImageData | TableData) -> str:
    """``model`` (one of :data:`REFINED_MODELS`) resolved for ``data``; one line for a model
    that does not fit it."""
    if model not in REFINED_MODELS:
        raise GankitError(
            f"unknown refined D model {model!r}; use one of {', '.join(REFINED_MODELS)}"
        )
    vectors = isinstance(data, VectorData)
    if model == "auto":
        return "fourier" if vectors else "copy"
    if model == "fourier" and not vectors:
        raise GankitError(
            "--model fourier refines D for vector data; images and tables refine a copy of the "
            "run's D: use --model copy (or auto)"
        )
    return model


def refined_header(discriminator: nn.Module) -> dict[str, str]:
    """What rebuilds this refined D (:func:`rebuild_refined`), for its file's header."""
    if isinstance(discriminator, FourierDiscriminator):
        hidden = json.dumps(discriminator.hidden)
        return {"model": "fourier", "levels": str(discriminator.levels), "hidden": hidden}
    return {"model": "copy"}


def rebuild_refined(
    header: dict[str, str], copy_of_d: Callable[[], nn.Module], data_dim: int, num_classes: int
) -> nn.Module:
    """An untrained refined D of the architecture its file's ``header`` names, to load the
    file's weights into (a header without ``model`` predates the Fourier D: a copy of D).
    Raises ValueError for a header it cannot read."""
    model = header.get("model", "copy")
    if model == "copy":
        return copy_of_d()
    if model == "fourier":
        hidden, levels = json.loads(header["hidden"]), int(header["levels"])
        return FourierDiscriminator(data_dim, hidden, levels, num_classes)
    raise ValueError(f"unknown refined D model {model!r} in its header")


def _held_out_quality(
    networks: Networks, data: VectorData | ImageData, seed: int
) -> dict[str, float]:
    """D's log-loss and calibration error on held-out real samples and as many fresh fakes."""
    real, labels = real_samples(data, networks.config.eval_samples, seed)
    propose = networks.propose_with(torch.Generator().manual_seed(seed))
    fake = propose(labels if labels is not None else len(real))
    logits = torch.cat([networks.logit(real, labels), networks.logit(fake, labels)]).double()
    probability = torch.sigmoid(logits).numpy()
    target = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).numpy()
    return {
        "log_loss": log_loss(probability, target),
        "calibration_error": calibration_error(probability, target),
    }
