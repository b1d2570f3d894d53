"""The training engine: alternating gradient steps on the GAN game.

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]

Each step takes ``d_steps`` discriminator steps, each on a fresh minibatch of real data
and noise (the Monte Carlo estimates of the expectations), then one generator step on
fresh noise. The losses themselves live in :mod:`gankit.objectives`.

Everything the trainer creates lives on one device (``config.device``), random generators
included; on the CPU a run is bit-for-bit reproducible from its config and seed, and from
its :meth:`Trainer.state_dict` (see :mod:`gankit.training.checkpoint`).

Under torchrun each process holds a trainer over its share of the global minibatch, and
the processes together take the steps of a single process (:mod:`gankit.training.distributed`).

A conditional GAN draws each real minibatch with its labels, and G makes fakes of the same
classes for D's step (of classes drawn like the training labels for G's step). Every image
D sees, real or fake, goes through :meth:`Trainer.run_discriminator`, where augmentation
(:mod:`gankit.diffaugment`) is applied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import get_total_norm

from gankit.config import Config, NetworkConfig
from gankit.data import ImageData, TableData, class_count
from gankit.data.vectors import VectorData
from gankit.diffaugment import Augment
from gankit.errors import ConfigError, DivergenceError
from gankit.nets import build_discriminator, build_generator
from gankit.nets.prior import sample_prior
from gankit.objectives import (
    OBJECTIVES,
    Objective,
    conditional_cross_entropy,
    gradient_penalty,
    r1_penalty,
)
from gankit.training.device import autocast, resolve_device
from gankit.training.distributed import SINGLE, World
from gankit.training.early_stop import EarlyStop, stop_metric
from gankit.training.ema import EMA

STAT_NAMES = ("loss_d", "loss_g", "d_real", "d_fake")
"""Logged per step: both losses, mean D(x) on real data and mean D(G(z)), from the D step;
and ``augment_p``, the augmentation probability, when images are augmented."""

Hook = Callable[[dict[str, Any]], None]


def make_optimizer(module: nn.Module, settings: NetworkConfig) -> torch.optim.Optimizer:
    """Adam or SGD for one network, from its section of the config."""
    if settings.optimizer == "adam":
        # The fused kernel does the whole update in one pass (CPU and CUDA): ~2x faster steps.
        return torch.optim.Adam(
            module.parameters(), lr=settings.lr, betas=tuple(settings.betas), fused=True
        )
    return torch.optim.SGD(module.parameters(), lr=settings.lr, momentum=settings.momentum)


class Trainer:
    """Holds G, D, their optimizers and random streams on one device; takes alternating steps.

    ``world`` is the set of processes the steps are spread over (one, by default).
    """

    def __init__(
        self,
        config: Config,
        data: VectorData | ImageData,
        generator: nn.Module,
        discriminator: nn.Module,
        objective: Objective,
        world: World = SINGLE,
    ) -> None:
        world.check_batch_size(config.batch_size, config.pack)
        self.config = config
        self.world = world
        self.data_fingerprint = data.fingerprint()  # in each checkpoint: resume checks it
        self.device = resolve_device(config.device, config.precision)
        self.data = data.to(self.device)
        # NHWC convolutions: ~1.1x faster steps at 28x28 on a CPU; a no-op for MLPs.
        layout = torch.channels_last if config.channels_last else torch.preserve_format
        generator, discriminator = (
            net.to(self.device, memory_format=layout) for net in (generator, discriminator)
        )
        sync = config.sync_batch_norm
        self.generator = world.sync_batch_norm(generator, sync, self.device)
        self.discriminator = world.sync_batch_norm(discriminator, sync, self.device)
        # What the gradient steps call: under DDP when there are several processes.
        self.synced_generator = world.wrap(self.generator)
        self.synced_discriminator = world.wrap(self.discriminator)
        self.objective = objective
        self.g_optimizer = make_optimizer(self.generator, config.generator)
        self.d_optimizer = make_optimizer(self.discriminator, config.discriminator)
        # Separate seeded streams, so that evaluation or logging never shifts the training data.
        self.data_rng = torch.Generator(self.device).manual_seed(config.seed)
        self.noise_rng = torch.Generator(self.device).manual_seed(config.seed + 1)
        self.augment_rng = torch.Generator(self.device).manual_seed(config.seed + 2)
        self.ema = EMA(self.generator, config.ema) if config.ema > 0 else None
        self.num_classes = class_count(config, data)
        # Tables: where each condition's category sits in a row, for G's cross-entropy term.
        slots = getattr(data, "condition_slots", None) if self.num_classes else None
        self.condition_slots = None if slots is None else slots.to(self.device)
        if config.augment.policy and len(data.shape) != 3:
            raise ConfigError("augment.policy augments images; this data is vectors")
        self.augment = Augment(config.augment, config.batch_size) if config.augment.policy else None
        self.early_stop = None  # steps=auto: stop when the held-out metric stops improving
        if config.stop.metric != "none":
            metric = stop_metric(config.stop.metric, _kind(data), bool(self.num_classes))
            self.early_stop = EarlyStop(metric, config.stop.patience, config.stop.min_delta)
        self.stat_names = STAT_NAMES + (("augment_p",) if self.augment else ())
        self.schedulers = [
            torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor)
            for optimizer in (self.g_optimizer, self.d_optimizer)
        ]
        self._generator_parameters = list(self.generator.parameters())
        self._guarded_parameters = [
            p.detach() for net in (self.discriminator, self.generator) for p in net.parameters()
        ]
        self.step = 0
        # stat_names summed since the last record: state, so a resumed run logs the same records.
        self.stats_sum = torch.zeros(len(self.stat_names), device=self.device)
        self.stats_count = 0

    def _lr_factor(self, step: int) -> float:
        """Learning-rate multiplier: constant, or decaying linearly to 0 at ``config.steps``."""
        if self.config.lr_decay == "linear":
            return max(0.0, 1 - step / self.config.steps)
        return 1.0

    @property
    def finished(self) -> bool:
        """Whether training is over: at ``config.steps``, or stopped early."""
        stopped = self.early_stop is not None and self.early_stop.stopped_at is not None
        return self.step >= self.config.steps or stopped

    @property
    def networks(self) -> dict[str, nn.Module]:
        """G, D and the EMA of G (when kept): what early stopping keeps the best of."""
        networks = {"generator": self.generator, "discriminator": self.discriminator}
        if self.ema is not None:
            networks["ema"] = self.ema.module
        return networks

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator to sample and evaluate with: the EMA of G's weights when enabled."""
        return self.ema.module if self.ema is not None else self.generator

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ p_z from the trainer's noise stream (or from ``generator``)."""
        return sample_prior(n, self.config.noise, generator or self.noise_rng, self.device)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Forward passes at ``config.precision`` (bf16 autocast on CUDA, or plain fp32)."""
        return autocast(self.device, self.config.precision)

    def real_batch(
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """n real training samples, and their labels when the GAN is conditional, from the
        trainer's data stream (or from ``generator``)."""
        generator = generator or self.data_rng
        if self.num_classes:
            return self.data.sample_labelled(n, generator)
        return self.data.sample(n, generator), None

    def generate(
        self, z: Tensor, labels: Tensor | None, generator: nn.Module | None = None
    ) -> Tensor:
        """G(z), or G(z, y) for a conditional GAN; ``generator``: G's DDP wrapper, or G."""
        net = generator if generator is not None else self.generator
        return net(z) if labels is None else net(z, labels)

    def run_discriminator(
        self, x: Tensor, labels: Tensor | None, discriminator: nn.Module | None = None
    ) -> Tensor:
        """D's logits for x: the one place D sees data, so augmentation reaches real and fake.

        ``discriminator``: D itself, or by default its DDP wrapper.
        """
        if self.augment is not None:
            x = self.augment(x, self.augment_rng)
        net = discriminator if discriminator is not None else self.synced_discriminator
        return net(x) if labels is None else net(x, labels)

    def discriminator_step(self, regularize: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """One gradient step on L_D (+ R1 if ``regularize``, + GP for WGAN-GP); G is not updated.

        Returns (L_D without the penalties, real logits, fake logits).
        """
        batch, world = self.config.batch_size, self.world
        real, labels = self.real_batch(batch)
        real = world.shard(real).requires_grad_(regularize)
        labels = world.shard(labels) if labels is not None else None
        with self.autocast():
            with torch.no_grad():  # no gradient for G here, so none for DDP to average
                # fakes of the real batch's classes
                fake = self.generate(world.shard(self.sample_noise(batch)), labels)
            real_logits = self.run_discriminator(real, labels)
            fake_logits = self.run_discriminator(fake, labels)
            if self.augment is not None and self.augment.adaptive:
                self.augment.observe(world.mean(real_logits.detach().sign().mean()))
            loss = self.objective.discriminator(real_logits, fake_logits)
            total = loss
            if regularize:
                # Lazy R1 (StyleGAN2): every r1_every-th D step, weighted by r1_every.
                total = loss + self.config.r1 * self.config.r1_every * r1_penalty(real_logits, real)
            if self.objective.gradient_penalty:

                def critic(x: Tensor) -> Tensor:
                    return self.run_discriminator(x, labels)

                penalty = gradient_penalty(critic, real, fake, self.noise_rng)
                total = total + self.objective.gradient_penalty * penalty
        self.d_optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.d_optimizer.step()
        return loss.detach(), real_logits.detach(), fake_logits.detach()

    def generator_step(self) -> Tensor:
        """One gradient step on L_G through D; D is not updated. Returns L_G."""
        batch, world = self.config.batch_size, self.world
        with self.autocast():
            labels = None
            if self.num_classes:
                labels = world.shard(self.data.sample_labels(batch, self.noise_rng))
            noise = world.shard(self.sample_noise(batch))
            fake = self.generate(noise, labels, self.synced_generator)
            # D itself, not its DDP wrapper: D takes no gradient here, so none to average.
            fake_logits = self.run_discriminator(fake, labels, self.discriminator)
            loss = self.objective.generator(fake_logits)
            if self.condition_slots is not None:
                loss = loss + conditional_cross_entropy(fake, labels, self.condition_slots)
        self.g_optimizer.zero_grad(set_to_none=True)
        # Gradients flow through D into G, but only G's parameters receive them.
        loss.backward(inputs=self._generator_parameters)
        self.g_optimizer.step()
        if self.ema is not None:
            self.ema.update(self.generator)
        return loss.detach()

    def train_step(self) -> Tensor:
        """k D steps, then one G step. Returns the stats named by ``stat_names``, over all
        processes."""
        for index in range(self.config.d_steps):
            d_update = self.step * self.config.d_steps + index
            regularize = self.config.r1 > 0 and d_update % self.config.r1_every == 0
            loss_d, real_logits, fake_logits = self.discriminator_step(regularize)
        loss_g = self.generator_step()
        for scheduler in self.schedulers:
            scheduler.step()
        self.step += 1
        # Averaged over the processes, the stats are the whole minibatch's, and a NaN in any
        # process reaches every process, so that all of them stop or restore together.
        stats = [loss_d, loss_g, real_logits.sigmoid().mean(), fake_logits.sigmoid().mean()]
        if self.augment is not None:
            stats.append(torch.tensor(self.augment.p, device=self.device))
        return self.world.mean(torch.stack(stats).float())

    def check_finite(self, stats: Tensor) -> None:
        """Raise :class:`DivergenceError` if a loss or any parameter of G or D is NaN or Inf."""
        # The norm of a tensor is finite exactly when each of its entries is (up to overflow
        # past ~1e19, which is divergence too): one foreach call and one host sync a step.
        norms = torch._foreach_norm(self._guarded_parameters)
        if torch.stack([stats[0], stats[1], *norms]).isfinite().all():
            return
        checks = {
            ("discriminator", "loss"): stats[0],
            ("generator", "loss"): stats[1],
            ("discriminator", "parameters"): get_total_norm(self.discriminator.parameters()),
            ("generator", "parameters"): get_total_norm(self.generator.parameters()),
        }
        for (network, part), value in checks.items():
            if not value.isfinite():
                message = f"the {network}'s {part} became NaN or Inf at step {self.step}"
                raise DivergenceError(message, network, self.step)

    def scale_learning_rates(self, factor: float) -> None:
        """Multiply both networks' learning rates by ``factor``, for the rest of the schedule."""
        for scheduler in self.schedulers:
            scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
            for group in scheduler.optimizer.param_groups:
                group["lr"] *= factor

    def set_learning_rates(self, generator: float, discriminator: float) -> None:
        """Set each network's learning rate from the next step on (the schedule still scales it)."""
        for scheduler, lr in zip(self.schedulers, (generator, discriminator), strict=True):
            scheduler.base_lrs = [lr for _ in scheduler.base_lrs]
            for group in scheduler.optimizer.param_groups:
                group["lr"] = lr * self._lr_factor(scheduler.last_epoch)

    def state_dict(self) -> dict[str, Any]:
        """Everything the next steps depend on: weights, EMA, optimizers, schedulers, streams, step.

        Tensors, and plain values JSON can hold (dict keys are strings).
        """
        return {
            "step": self.step,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "g_optimizer": _optimizer_state(self.g_optimizer),
            "d_optimizer": _optimizer_state(self.d_optimizer),
            "schedulers": [scheduler.state_dict() for scheduler in self.schedulers],
            "data_rng": self.data_rng.get_state(),
            "noise_rng": self.noise_rng.get_state(),
            "augment_rng": self.augment_rng.get_state(),
            "augment": self.augment.state_dict() if self.augment is not None else None,
            "early_stop": self.early_stop.state_dict() if self.early_stop is not None else None,
            "stats_sum": self.stats_sum,
            "stats_count": self.stats_count,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a trainer built from the same config."""
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        _load_optimizer_state(self.g_optimizer, state["g_optimizer"])
        _load_optimizer_state(self.d_optimizer, state["d_optimizer"])
        for scheduler, scheduler_state in zip(self.schedulers, state["schedulers"], strict=True):
            scheduler.load_state_dict(scheduler_state)
        self.data_rng.set_state(state["data_rng"])
        self.noise_rng.set_state(state["noise_rng"])
        if "augment_rng" in state:  # checkpoints written before augmentation existed lack it
            self.augment_rng.set_state(state["augment_rng"])
        if self.augment is not None:
            self.augment.load_state_dict(state["augment"])
        if self.early_stop is not None:
            self.early_stop.load_state_dict(state["early_stop"])
        self.stats_sum.copy_(state["stats_sum"])
        self.stats_count = int(state["stats_count"])
        self.step = int(state["step"])

    def fit(
        self,
        steps: int,
        hooks: Sequence[Hook] = (),
        evaluate: Callable[[], dict[str, float]] | None = None,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        """Train until ``self.step == steps`` or early stopping stops it, reporting each step
        (:meth:`report_step`).

        A step whose losses or parameters are not finite raises :class:`DivergenceError`
        before it is logged or saved.
        """
        while self.step < steps and not self.finished:
            stats = self.train_step()
            self.check_finite(stats)
            self.report_step(stats, steps, hooks, evaluate, checkpoint)

    def report_step(
        self,
        stats: Tensor,
        steps: int,
        hooks: Sequence[Hook] = (),
        evaluate: Callable[[], dict[str, float]] | None = None,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        """Account for the step just taken, whose ``stats`` are finite, of a fit to ``steps``.

        Every ``log_every`` steps the stats averaged since the last record are passed to each
        hook as ``{"step": ..., "loss_d": ..., ...}``; every ``eval_every`` steps and at the
        end, ``evaluate()`` adds its metrics to that record, and early stopping may end the fit
        there. Every ``checkpoint_every`` steps and at the end, after the hooks,
        ``checkpoint()`` is called. A population of trainers stepped together
        (:mod:`gankit.training.population`) reports each member's step here.
        """
        config = self.config
        self.stats_sum += stats
        self.stats_count += 1
        last = self.step == steps
        evaluating = last or self.step % config.eval_every == 0
        if evaluating or self.step % config.log_every == 0:
            record: dict[str, Any] = {"step": self.step}
            averages = (self.stats_sum / self.stats_count).tolist()
            record.update(zip(self.stat_names, averages, strict=True))
            self.stats_sum.zero_()
            self.stats_count = 0
            if evaluate is not None and evaluating:
                record.update(evaluate())
            if self.early_stop is not None and evaluating:
                value = record.get(self.early_stop.metric)  # rank 0's: the one that evaluates
                last |= self.early_stop.observe(value, self.step, self.networks, self.world)
            for hook in hooks:
                hook(record)
        if checkpoint is not None and (last or self.step % config.checkpoint_every == 0):
            checkpoint()


def build_trainer(config: Config, data: VectorData | ImageData, world: World = SINGLE) -> Trainer:
    """G, D and their trainer, initialised from ``config.seed`` (the same in every process)."""
    torch.manual_seed(config.seed)
    classes = class_count(config, data)
    spans = data.spans if hasattr(data, "spans") else None  # a table's output heads
    generator = build_generator(config, data.shape, classes, spans)
    discriminator = build_discriminator(config, data.shape, classes, spans)
    return Trainer(config, data, generator, discriminator, OBJECTIVES[config.loss], world)


def _kind(data: VectorData | ImageData | TableData) -> str:
    """The data's kind, as early stopping names it: what its evaluation reports."""
    if isinstance(data, ImageData):
        return "images"
    if isinstance(data, TableData):
        return "tables"
    return "mixtures" if data.density is not None else "vectors"


def _optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """An optimizer's state_dict with string keys (JSON's), for a checkpoint."""
    state = optimizer.state_dict()
    return {
        "state": {str(index): values for index, values in state["state"].items()},
        "param_groups": state["param_groups"],
    }


def _load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    # torch matches per-parameter state by integer index; a string key would be dropped silently.
    optimizer.load_state_dict(
        {
            "state": {int(index): values for index, values in state["state"].items()},
            "param_groups": state["param_groups"],
        }
    )
    # Moments come back contiguous; fused Adam reads them in its parameter's memory order
    # (a channels_last weight's moments, read as NCHW, would update the wrong entries).
    for parameter, moments in optimizer.state.items():
        for name, value in moments.items():
            same_shape = isinstance(value, Tensor) and value.shape == parameter.shape
            if same_shape and value.stride() != parameter.stride():
                moments[name] = torch.empty_like(parameter).copy_(value)
