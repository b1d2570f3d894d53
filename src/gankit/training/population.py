"""Population training: many independent GANs of one architecture, stepped together.

``gankit train data=ring8 population.seeds=8 --out runs/p`` trains eight GANs, seeded
``seed``, ``seed + 1``, ..., in one process. Each member is an ordinary :class:`Trainer`,
built as a single run with its seed builds it (same initial weights, same random streams for
data and noise, its own EMA, learning-rate schedule and optimizer settings); what the
population adds is the step. Every member's G and D are stacked into one network
(:mod:`gankit.nets.stacked`: batched matrix products for MLPs; for the DCGAN, batch norm over
the members' channels side by side and grouped convolutions, or on a CPU each member's in
turn), and one forward and backward pass computes the population's loss,

    L = sum_s L_s,

whose gradient with respect to member s's parameters is exactly dL_s/dtheta_s: members share
no parameter. Adam and SGD are elementwise, so stepping the stacked parameters with each
member's own learning rate, betas and step count moves every member as it would move alone.
A member therefore follows its single run up to the rounding of batched kernels, as long as
it draws its batches from its own streams (``population.draws=own``, the default on the CPU);
with ``shared`` draws (the default on CUDA, where a draw per member is a launch per member)
one draw at each step serves all members, a row each, and a member is a GAN of its seed but
no longer its single run.

Each member writes its own run folder (``runs/p/seed-3/``) with the code a single run uses
(:class:`~gankit.training.run_outputs.RunOutputs`), so ``gankit sample``, ``evaluate``,
``report`` and ``train --resume`` work on it. A member that diverges stops, or goes back to its
last checkpoint, alone (:class:`~gankit.training.guard.DivergenceGuard`); the rest go on.

The population's folder holds its ``config.yaml``, ``population.json`` (each member's folder,
seed, swept settings and status: its checkpoint, with the members' own checkpoints, so that
``gankit train --resume runs/p`` continues every member) and ``summary.json``: the mean and
standard error over the finished members of each final metric.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.config import Config, PopulationConfig, load_config, set_key, validate
from gankit.data import ImageData, VectorData, load_data
from gankit.errors import DivergenceError, GankitError
from gankit.files import write_atomically
from gankit.metrics.intervals import mean_and_standard_error
from gankit.nets import resolve_model
from gankit.nets.stacked import Stacked, stack
from gankit.objectives import conditional_cross_entropy
from gankit.output import run_folder
from gankit.run import Run
from gankit.threads import torch_threads
from gankit.training.checkpoint import Checkpoints
from gankit.training.engine import Trainer, build_trainer
from gankit.training.guard import DivergenceGuard
from gankit.training.run_outputs import RunOutputs

log = logging.getLogger(__name__)

STATE = "population.json"
"""The population's own file in its folder: its members and how far each has come."""


def is_population(config: Config) -> bool:
    """Whether ``config`` asks for a population rather than a single run."""
    return config.population.seeds > 1 or bool(config.population.sweep)


def member_configs(config: Config) -> list[Config]:
    """Each member's config: the population's, with its own seed and swept values, and no
    population section (a member's folder reads as a single run's)."""
    members = []
    for index in range(config.population.seeds):
        member = copy.deepcopy(config)
        member.population = PopulationConfig()
        member.sources = {
            key: source
            for key, source in config.sources.items()
            if key.split(".")[0] != "population"
        }
        member.seed = config.seed + index
        if index:
            member.sources["seed"] = f"population member {index} (seed + {index})"
        for key, values in config.population.sweep.items():
            set_key(member, key, values[index], from_text=False)
            member.sources[key] = f"population.sweep, member {index}"
        validate(member)
        members.append(member)
    return members


class StackedOptimizer:
    """Adam or SGD (as :func:`gankit.training.engine.make_optimizer` makes them) over the rows
    of a stacked parameter, each row with its member's own learning rate and settings.

    The hyperparameters are read from each member's own optimizer, whose schedule and
    divergence guard set them; the moments live here and are copied to the member's optimizer
    (:meth:`store`) whenever the member writes a checkpoint.
    """

    def __init__(
        self,
        stack: Stacked,
        networks: Sequence[torch.nn.Module],
        optimizers: Sequence[torch.optim.Optimizer],
    ) -> None:
        self.stack, self.optimizers = stack, list(optimizers)
        self.parameters = [dict(network.named_parameters()) for network in networks]
        self.adam = isinstance(optimizers[0], torch.optim.Adam)
        flat = stack.flat
        self.first = torch.zeros_like(flat)  # Adam's m, or SGD's momentum buffer
        self.second = torch.zeros_like(flat)  # Adam's v
        # Adam's step count t of each member, as its fused Adam keeps it
        self.steps = torch.zeros(len(flat), dtype=torch.float32, device=flat.device)
        self.counts = [0] * len(flat)  # the same t on the host: grouping reads no device value
        for row, optimizer in enumerate(optimizers):
            self._load(row, optimizer)

    def _member_parameters(self, row: int) -> list[tuple[Tensor, Tensor, Tensor]]:
        """(the member's parameter, its row in ``first``, in ``second``) for each parameter."""
        parameters = self.parameters[row]
        return [
            (parameters[slot.name], slot.view(self.first)[row], slot.view(self.second)[row])
            for slot in self.stack.param_slots
        ]

    @torch.no_grad()
    def _load(self, row: int, optimizer: torch.optim.Optimizer) -> None:
        for parameter, first, second in self._member_parameters(row):
            state = optimizer.state.get(parameter, {})
            if self.adam and "exp_avg" in state:
                first.copy_(state["exp_avg"])
                second.copy_(state["exp_avg_sq"])
                self.steps[row] = self.counts[row] = int(state["step"])
            elif not self.adam and state.get("momentum_buffer") is not None:
                first.copy_(state["momentum_buffer"])

    @torch.no_grad()
    def store(self, row: int) -> None:
        """Put row ``row``'s moments into its member's own optimizer, as it would hold them."""
        optimizer = self.optimizers[row]
        step = float(self.counts[row])
        for parameter, first, second in self._member_parameters(row):
            if self.adam and step > 0:
                optimizer.state[parameter] = {
                    "step": torch.tensor(step, dtype=torch.float32, device=parameter.device),
                    "exp_avg": first.clone(),
                    "exp_avg_sq": second.clone(),
                }
            elif not self.adam and optimizer.param_groups[0]["momentum"] != 0 and step > 0:
                optimizer.state[parameter] = {"momentum_buffer": first.clone()}

    @torch.no_grad()
    def step(self, gradient: Tensor) -> None:
        """One step of every member on its row of ``gradient``, with its own optimizer's
        current settings: the elementwise kernel its own optimizer runs. Members whose settings
        and step counts agree step in one call, on their rows together."""
        flat = self.stack.flat.detach()
        self.steps += 1  # t, counted before the update as torch's Adam counts it
        self.counts = [count + 1 for count in self.counts]
        for settings, rows in self._groups().items():
            if len(rows) == len(self.optimizers):  # the whole stack at once: no row views
                theta, grad, first, second = [flat], [gradient], [self.first], [self.second]
                steps = [self.steps[0]]  # the group's members count alike: one t
            else:
                theta, grad, first, second, steps = (
                    [tensor[row] for row in rows]
                    for tensor in (flat, gradient, self.first, self.second, self.steps)
                )
            if self.adam:
                lr, beta1, beta2, eps, _ = settings
                # m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
                # theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
                torch._fused_adam_(
                    theta, grad, first, second, [], steps,
                    amsgrad=False, lr=lr, beta1=beta1, beta2=beta2, weight_decay=0.0, eps=eps,
                    maximize=False,
                )  # fmt: skip
            else:  # buf = momentum buf + g (g at the first step); theta -= lr buf
                lr, momentum = settings
                if momentum:
                    torch._foreach_mul_(first, momentum)
                    torch._foreach_add_(first, grad)
                torch._foreach_add_(theta, first if momentum else grad, alpha=-lr)

    def _groups(self) -> dict[tuple[float, ...], list[int]]:
        """The rows of each distinct setting (and, for Adam, step count) of the members'
        optimizers, read now: a schedule or the divergence guard may have changed a member's
        learning rate, and a member restored by the guard counts from its checkpoint."""
        groups: dict[tuple[float, ...], list[int]] = {}
        for row, optimizer in enumerate(self.optimizers):
            group = optimizer.param_groups[0]
            if self.adam:
                settings = (group["lr"], *group["betas"], group["eps"], self.counts[row])
            else:
                settings = (group["lr"], group["momentum"])
            groups.setdefault(settings, []).append(row)
        return groups


class Population:
    """Trainers of one architecture stepped together; ``active`` lists the members in the
    stack, by index into ``trainers``."""

    def __init__(
        self,
        trainers: Sequence[Trainer],
        streams: Sequence[torch.Generator],
        draws: str = "auto",
    ) -> None:
        self.trainers, self.streams = list(trainers), list(streams)
        first = self.trainers[0]
        # population.draws: one draw for all members (shared) or one each, as alone (own)
        self.shares_draws = draws == "shared" or (draws == "auto" and first.device.type == "cuda")
        self.draws = torch.Generator(first.device)
        # Each member's L_D and L_G, computed as its single run computes them, on its row.
        self.discriminator_loss = torch.func.vmap(first.objective.discriminator)
        self.generator_loss = torch.func.vmap(first.objective.generator)
        self.cross_entropy = torch.func.vmap(conditional_cross_entropy)
        self.active: list[int] = []
        self.restack([index for index, t in enumerate(self.trainers) if not t.finished])

    def restack(self, active: Sequence[int]) -> None:
        """Stack the ``active`` members anew, from their own networks and optimizers.

        A single member is not stacked: it takes its own trainer's steps, the single run's.
        """
        self.active = list(active)
        if len(self.active) < 2:
            return
        members = [self.trainers[index] for index in self.active]
        generators = [t.generator for t in members]
        discriminators = [t.discriminator for t in members]
        self.generator = stack(generators)
        self.discriminator = stack(discriminators)
        for network in (self.generator, self.discriminator):
            network.streams = [self.streams[index] for index in self.active]
            network.shared_stream = self.draws if self.shares_draws else None
        self.g_optimizer = StackedOptimizer(
            self.generator, generators, [t.g_optimizer for t in members]
        )
        self.d_optimizer = StackedOptimizer(
            self.discriminator, discriminators, [t.d_optimizer for t in members]
        )
        # EMA of G: members without one (ema=0) keep a row that is never read.
        decays = [t.config.ema for t in members]
        device = self.generator.flat.device
        decay = torch.tensor(decays, dtype=self.generator.flat.dtype, device=device)
        self.ema_weight = 1 - decay[:, None]
        self.ema_flat = self.generator.flat.detach().clone()
        self.ema_buffers = self.generator.buffers_flat.clone()
        self.ema_counters = self.generator.counters.clone()
        for row, trainer in enumerate(members):
            if trainer.ema is not None:
                self.generator.load_row(
                    row, trainer.ema.module, self.ema_flat, self.ema_buffers, self.ema_counters
                )
        config = members[0].config
        self.r1_weight = torch.tensor([t.config.r1 * config.r1_every for t in members]).to(device)
        # Whether the members train on the same data (each trainer holds its own copy on the
        # device): as _member_data decides, unless a sweep gave each its own subset of images.
        self.one_data = all(t.config.image == config.image for t in members)
        if members[0].condition_slots is not None:
            self.condition_slots = torch.stack([t.condition_slots for t in members])

    @torch.no_grad()
    def store(self, index: int) -> None:
        """Copy member ``index``'s row of the stack into its own trainer: networks, EMA and
        optimizer moments, so that it can be evaluated, checkpointed or restored alone."""
        if len(self.active) < 2:
            return  # it trains in its own trainer
        row, trainer = self.active.index(index), self.trainers[index]
        generator, discriminator = self.generator, self.discriminator
        generator.store_row(
            row, trainer.generator, generator.flat, generator.buffers_flat, generator.counters
        )
        discriminator.store_row(
            row,
            trainer.discriminator,
            discriminator.flat,
            discriminator.buffers_flat,
            discriminator.counters,
        )
        if trainer.ema is not None:
            generator.store_row(
                row, trainer.ema.module, self.ema_flat, self.ema_buffers, self.ema_counters
            )
        self.g_optimizer.store(row)
        self.d_optimizer.store(row)

    def train_step(self) -> Tensor:
        """k D steps, then one G step, of every active member. Returns each member's stats
        (rows in the order of ``active``), as :meth:`Trainer.train_step` returns one's."""
        members = [self.trainers[index] for index in self.active]
        if len(members) == 1:
            with drawing_from(self.streams[self.active[0]]):
                return members[0].train_step()[None]
        config = members[0].config
        if self.shares_draws:
            self._reseed(members[0].step)
        for index in range(config.d_steps):
            regularize = torch.tensor(
                [
                    t.config.r1 > 0 and (t.step * config.d_steps + index) % config.r1_every == 0
                    for t in members
                ]
            )
            loss_d, real_logits, fake_logits = self._discriminator_step(members, regularize)
        loss_g = self._generator_step(members)
        stats = [loss_d, loss_g, real_logits.sigmoid().mean(1), fake_logits.sigmoid().mean(1)]
        if members[0].augment is not None:
            p = torch.tensor([t.augment.p for t in members], dtype=loss_d.dtype)
            stats.append(p.to(loss_d.device))
        with warnings.catch_warnings():
            # A member's own optimizer never steps (the stack steps its row), and torch warns
            # at the first schedule step that it did not.
            warnings.filterwarnings("ignore", "Detected call of", UserWarning)
            for trainer in members:
                for scheduler in trainer.schedulers:
                    scheduler.step()
                trainer.step += 1
        return torch.stack(stats, 1).float()

    def _discriminator_step(
        self, members: list[Trainer], regularize: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        real, labels = self._real_batches(members)
        noise = self._noise(members)
        penalised = bool(regularize.any())
        real.requires_grad_(penalised)
        with members[0].autocast():
            with torch.no_grad():  # fakes of the real batch's classes
                fake = self.generator(noise, labels)
            real_logits = self._discriminate(members, real, labels)
            fake_logits = self._discriminate(members, fake, labels)
            if members[0].augment is not None and members[0].augment.adaptive:
                # ADA's E[sign(logit D(x))] of each member's real batch (a mean of +-1: exact)
                signs = real_logits.detach().sign().flatten(1).mean(1)
                for trainer, sign in zip(members, signs, strict=True):
                    trainer.augment.observe(sign)
            loss = self.discriminator_loss(real_logits, fake_logits)  # L_D of each member
            total = loss
            if penalised:
                # R1 = 1/2 E_x[||grad_x l(x)||^2] of each member (objectives.r1_penalty): the
                # members share no parameter, so one gradient of the sum holds each one's own.
                (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
                r1 = 0.5 * gradient.square().flatten(2).sum(2).mean(1)
                weight = torch.where(regularize.to(r1.device), self.r1_weight, 0.0).to(r1.dtype)
                total = loss + weight * r1
        self.discriminator.zero_grad()
        total.sum().backward()  # sum_s L_s: each member gets its own gradient
        self.d_optimizer.step(self.discriminator.flat_gradient())
        return loss.detach(), real_logits.detach(), fake_logits.detach()

    def _generator_step(self, members: list[Trainer]) -> Tensor:
        labels = None
        if members[0].num_classes:  # drawn before the noise, from the same stream, as alone
            labels = self._labels(members)
        noise = self._noise(members)
        with members[0].autocast():
            fake = self.generator(noise, labels)
            fake_logits = self._discriminate(members, fake, labels)
            loss = self.generator_loss(fake_logits)  # L_G of each member
            if members[0].condition_slots is not None:  # a table G honours its condition
                loss = loss + self.cross_entropy(fake, labels, self.condition_slots)
        self.generator.zero_grad()
        loss.sum().backward(inputs=list(self.generator.leaves.values()))
        self.g_optimizer.step(self.generator.flat_gradient())
        flat = self.generator.flat
        with torch.no_grad():  # theta_ema <- decay theta_ema + (1 - decay) theta, per member
            self.ema_flat.lerp_(flat, self.ema_weight)
            self.ema_buffers.copy_(self.generator.buffers_flat)
            self.ema_counters.copy_(self.generator.counters)
        return loss.detach()

    def _reseed(self, step: int) -> None:
        """The population's stream at ``step``: seeded from the population's seed and the step
        alone, so that a population resumed from a checkpoint draws what it would have drawn."""
        key = np.random.SeedSequence([self.trainers[0].config.seed, step])
        self.draws.manual_seed(int(key.generate_state(1, np.uint64)[0]))

    def _real_batches(self, members: list[Trainer]) -> tuple[Tensor, Tensor | None]:
        """Each member's real batch (and labels), stacked: drawn at once when the members
        share draws and data, else each from its own stream."""
        batch, count = members[0].config.batch_size, len(members)
        if self.shares_draws and self.one_data:
            real, labels = members[0].real_batch(count * batch, self.draws)
            return _rows(real, count), None if labels is None else _rows(labels, count)
        return _stack([t.real_batch(batch) for t in members])

    def _labels(self, members: list[Trainer]) -> Tensor:
        """Each member's labels for G, stacked (as :meth:`_real_batches` draws them)."""
        batch, count = members[0].config.batch_size, len(members)
        if self.shares_draws and self.one_data:
            return _rows(members[0].data.sample_labels(count * batch, self.draws), count)
        return torch.stack([t.data.sample_labels(batch, t.noise_rng) for t in members])

    def _noise(self, members: list[Trainer]) -> Tensor:
        """Each member's z ~ p_z, stacked: at once from the population's stream, or each from
        its own."""
        batch = members[0].config.batch_size
        if self.shares_draws:
            return _rows(members[0].sample_noise(len(members) * batch, self.draws), len(members))
        return torch.stack([t.sample_noise(batch) for t in members])

    def _discriminate(self, members: list[Trainer], x: Tensor, labels: Tensor | None) -> Tensor:
        """Each member's D logits for its x, augmented as its single run augments (its policy
        and p: Trainer.run_discriminator), from its own random stream or, with shared draws,
        all members' images at once from the population's."""
        if members[0].augment is not None and self.shares_draws:
            images = x.flatten(0, 1)  # (S * n, C, H, W)
            chances = [t.augment.p for t in members]
            p = None
            if len(set(chances)) > 1:  # ADA moved the members' p apart: each image its own
                p = torch.tensor(chances, dtype=x.dtype).repeat_interleave(x.shape[1])
                p = p.to(x.device)
            x = members[0].augment(images, self.draws, p).view_as(x)
        elif members[0].augment is not None:
            x = torch.stack(
                [t.augment(own, t.augment_rng) for t, own in zip(members, x, strict=True)]
            )
        return self.discriminator(x, labels)

    def finite(self, stats: Tensor) -> list[bool]:
        """For each active member, whether its losses and all its parameters are finite."""
        if len(self.active) == 1:
            try:
                self.trainers[self.active[0]].check_finite(stats[0])
            except DivergenceError:
                return [False]
            return [True]
        # A norm is finite exactly when every entry is (as Trainer.check_finite): one sync.
        checks = torch.cat(
            [
                stats[:, :2],
                self.generator.flat.detach().norm(dim=1)[:, None],
                self.discriminator.flat.detach().norm(dim=1)[:, None],
            ],
            1,
        )
        return checks.isfinite().all(1).tolist()


@dataclass
class Member:
    """One member's run: its folder, status and, while it trains, its trainer, run folder
    outputs and divergence guard."""

    seed: int
    directory: Path
    settings: dict[str, Any]
    status: str = "training"  # then "finished" or "diverged"
    message: str = ""
    run: Run | None = None
    trainer: Trainer | None = None
    outputs: RunOutputs | None = None
    guard: DivergenceGuard | None = None
    resumed: bool = False
    stream: torch.Generator | None = None  # its share of torch's global stream (own_stream)


@dataclass
class PopulationRun:
    """A finished population: its folder, and each finished member's :class:`Run`."""

    directory: Path
    runs: list[Run]

    def summary(self) -> dict[str, Any]:
        """The population's summary.json: mean and standard error of each final metric."""
        return run_folder.read_summary(self.directory)


def check_population(config: Config, data: Any) -> None:
    """Refuse, with one line, what a population cannot train."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise GankitError(
            "population training runs in one process; start it without torchrun, or drop "
            "population.seeds and population.sweep to spread one run over the processes"
        )
    spans = getattr(data, "spans", None)
    model = resolve_model(config, data.shape, spans)
    if model not in ("mlp", "dcgan", "tabular"):
        raise GankitError(
            f"population training stacks MLPs, DCGANs and table networks; model={model} trains "
            "one run at a time: choose model=mlp or model=dcgan, or drop population.seeds and "
            "population.sweep"
        )
    if config.generator.spectral_norm or config.discriminator.spectral_norm:
        raise GankitError(
            "population training does not stack spectral norm (its power iteration is per "
            "run); set generator.spectral_norm and discriminator.spectral_norm to false, or "
            "train the runs one at a time"
        )
    if config.channels_last:
        raise GankitError(
            "population training stacks networks in the default memory format; set "
            "channels_last=false, or train the runs one at a time"
        )
    if config.loss == "wgan-gp":
        raise GankitError(
            "population training does not take loss=wgan-gp (its gradient penalty is per run); "
            "choose another loss, or train the runs one at a time"
        )


def train_population(
    config: Config,
    data: VectorData | ImageData,
    out: str | Path,
    overwrite: bool = False,
    folders: Sequence[str | Path] | None = None,
) -> PopulationRun:
    """Train every member of ``config.population`` and write the population's folder.

    Member s's run folder is ``out/seed-<its seed>``, or ``folders[s]`` when given (a study
    keeps each GAN in its cell's folder)."""
    check_population(config, data)
    configs = member_configs(config)
    with contextlib.ExitStack() as stack:
        directory = run_folder.prepare(out, overwrite)
        stack.enter_context(run_folder.locked(directory, "training its population"))
        write_atomically(directory / run_folder.CONFIG, config.to_yaml())
        members = []
        for index, member_config in enumerate(configs):
            own = directory / f"seed-{member_config.seed}" if folders is None else folders[index]
            folder = run_folder.prepare(own, overwrite)
            stack.enter_context(run_folder.locked(folder, "training it in a population"))
            write_atomically(folder / run_folder.CONFIG, member_config.to_yaml())
            member_data = _member_data(config, member_config, data)
            trainer = build_trainer(member_config, member_data)
            members.append(_member(index, trainer, member_data, folder, config, resumed=False))
        return _train_members(config, directory, members)


def _member_data(config: Config, member: Config, data: Any) -> Any:
    """The data a member trains on: the population's, or, when the population sweeps
    ``image.subset_seed``, the member's own subset of the training images."""
    return data if member.image == config.image else load_data(member)


def own_stream(device: torch.device) -> torch.Generator:
    """A generator in the state of torch's global one on ``device``: a member's own copy of the
    stream its single run would go on drawing from."""
    stream = torch.Generator(device)
    cuda = device.type == "cuda"
    stream.set_state(torch.cuda.get_rng_state(device) if cuda else torch.get_rng_state())
    return stream


@contextlib.contextmanager
def drawing_from(stream: torch.Generator) -> Iterator[None]:
    """torch's global stream set to a member's own, and the member's moved on by what was drawn
    meanwhile: for what a member does as its single run does it (its steps alone, evaluations,
    checkpoints), so that each member's draws are its single run's."""
    cuda = stream.device.type == "cuda"
    get = (lambda: torch.cuda.get_rng_state(stream.device)) if cuda else torch.get_rng_state
    put = (lambda s: torch.cuda.set_rng_state(s, stream.device)) if cuda else torch.set_rng_state
    saved = get()
    put(stream.get_state())
    try:
        yield
    finally:
        stream.set_state(get())
        put(saved)


def resume_population(
    directory: Path, device: str | None = None, allow_changed_data: bool = False
) -> PopulationRun:
    """Continue a stopped population: each member still training from its newest checkpoint."""
    state = run_folder.read_json(directory / STATE)
    config = load_config(directory / run_folder.CONFIG)
    if device is not None:
        config = copy.deepcopy(config)
        config.device = device
    data = load_data(config)
    check_population(config, data)
    with contextlib.ExitStack() as stack:
        stack.enter_context(run_folder.locked(directory, "resuming its population"))
        members = []
        for index, entry in enumerate(state["members"]):
            folder = directory / entry["folder"]
            if entry["status"] != "training":
                members.append(_settled_member(entry, folder))
                continue
            stack.enter_context(run_folder.locked(folder, "resuming it in a population"))
            checkpoint = Checkpoints(folder / run_folder.CHECKPOINTS).newest()
            member_config = checkpoint.config
            if device is not None:
                member_config = copy.deepcopy(member_config)
                member_config.device = device
            member_data = _member_data(config, member_config, data)
            saved, now = checkpoint.state.get("data"), member_data.fingerprint()
            if saved is not None and saved != now and not allow_changed_data:
                raise GankitError(
                    f"the data of {str(folder)!r} changed since its checkpoint (then {saved}, "
                    f"now {now}); restore the data, or pass --allow-changed-data to go on with it"
                )
            trainer = build_trainer(member_config, member_data)
            checkpoint.restore(trainer)
            members.append(_member(index, trainer, member_data, folder, config, resumed=True))
        log.info("resuming the population %s", directory)
        return _train_members(config, directory, members)


def _member(
    index: int, trainer: Trainer, data: Any, folder: Path, config: Config, resumed: bool
) -> Member:
    """A member from its trainer, just built (or restored) with torch's global stream where its
    single run has it then."""
    stream = own_stream(trainer.device)
    with drawing_from(stream):
        # The first member's progress bar stands for the population's.
        outputs = RunOutputs(trainer, data, folder, progress=index == 0)
    guard = DivergenceGuard(trainer, outputs.checkpoints, outputs.reporters)
    settings = {key: values[index] for key, values in config.population.sweep.items()}
    return Member(
        trainer.config.seed,
        folder,
        settings,
        trainer=trainer,
        outputs=outputs,
        guard=guard,
        resumed=resumed,
        stream=stream,
    )


def _settled_member(entry: dict[str, Any], folder: Path) -> Member:
    """A member that finished or diverged before the population was resumed."""
    member = Member(entry["seed"], folder, entry["settings"], entry["status"], entry["message"])
    if entry["status"] == "finished":
        member.run = Run.load(folder)
    return member


def _train_members(config: Config, directory: Path, members: list[Member]) -> PopulationRun:
    """Step the members still training together to the last step, then write the summary."""
    training = [m for m in members if m.status == "training"]
    started = time.perf_counter()
    try:
        for member in training:
            if member.resumed:
                member.outputs.rewind()
        _write_state(directory, members)
        with torch_threads(config.threads):
            if training:
                _fit(directory, members, training, started, config.population.draws)
    finally:
        for member in training:
            if member.status == "training":  # the others closed theirs as they settled
                member.outputs.close()
    runs = [m.run for m in members if m.run is not None]
    if not runs:
        raise DivergenceError(
            f"every member of the population {str(directory)!r} diverged; "
            "lower the learning rates, or set on_divergence=restore",
            "population",
            config.steps,
        )
    run_folder.write_json(directory / run_folder.SUMMARY, _summary(members, started))
    return PopulationRun(directory, runs)


def _fit(
    directory: Path, members: list[Member], training: list[Member], started: float, draws: str
) -> None:
    trainers = [m.trainer for m in training]
    population = Population(trainers, [m.stream for m in training], draws)
    by_index = {index: member for index, member in enumerate(training)}
    steps = trainers[0].config.steps

    def store(index: int) -> Callable[[], None]:
        return lambda: population.store(index)

    for member in training:
        with drawing_from(member.stream):
            if member.trainer.step == 0:
                member.guard.checkpoint()  # a good state to go back to before the first step
            if member.trainer.finished:  # killed after its last checkpoint: only to write
                _finish(member, started)
    evaluators = {
        index: _after(store(index), member.outputs.evaluate) for index, member in by_index.items()
    }
    checkpoints = {
        index: _after(store(index), member.guard.checkpoint) for index, member in by_index.items()
    }
    while population.active:
        stats = population.train_step()
        finite = population.finite(stats)
        done = [population.trainers[i].step >= steps for i in population.active]
        changed = not all(finite) or any(done)
        if changed:  # every member's own trainer up to date before the stack is rebuilt
            for index in population.active:
                population.store(index)
        for row, index in enumerate(list(population.active)):
            member = by_index[index]
            with drawing_from(member.stream):
                _report(member, stats[row], finite[row], evaluators[index], checkpoints[index])
                if member.status == "training" and member.trainer.finished:
                    _finish(member, started)
            if member.status != "training":  # finished or diverged
                _write_state(directory, members)
        going_on = [i for i in population.active if by_index[i].status == "training"]
        if not changed and len(going_on) < len(population.active):  # one stopped early
            for index in going_on:
                population.store(index)
            changed = True
        if changed:
            population.restack(going_on)


def _report(
    member: Member,
    stats: Tensor,
    finite: bool,
    evaluate: Callable[[], Any],
    checkpoint: Callable[[], None],
) -> None:
    """A member's step taken: logged, evaluated and checkpointed as its single run's, or, when
    not finite, back to its last checkpoint, alone, or stopped."""
    trainer = member.trainer
    if finite:
        trainer.report_step(
            stats, trainer.config.steps, member.outputs.reporters, evaluate, checkpoint
        )
        return
    try:
        member.guard.recover(_divergence(trainer, stats))
    except DivergenceError as final:
        member.status, member.message = "diverged", str(final)
        member.outputs.close()
        log.warning("member %s stopped: %s", member.directory.name, final)


def _stack(batches: list[tuple[Tensor, Tensor | None]]) -> tuple[Tensor, Tensor | None]:
    """The members' (samples, labels or None) stacked on a first dimension, one per member."""
    samples, labels = zip(*batches, strict=True)
    return torch.stack(samples), None if labels[0] is None else torch.stack(labels)


def _rows(draws: Tensor, members: int) -> Tensor:
    """One draw for the whole population, split into one row of equal size per member."""
    return draws.view(members, -1, *draws.shape[1:])


def _divergence(trainer: Trainer, stats: Tensor) -> DivergenceError:
    """What the member's own check says of its step that is not finite."""
    try:
        trainer.check_finite(stats)
    except DivergenceError as error:
        return error
    # Only the population's check saw it: a parameter row whose norm overflows float range.
    message = f"a parameter grew past the float range at step {trainer.step}"
    return DivergenceError(message, "population", trainer.step)


def _after(first: Callable[[], None], then: Callable[[], Any]) -> Callable[[], Any]:
    def call() -> Any:
        first()
        return then()

    return call


def _finish(member: Member, started: float) -> None:
    """Write a member's run folder as a single run's, once it reached the last step."""
    member.outputs.close()
    member.run = member.outputs.finish(time.perf_counter() - started, member.resumed)
    member.status = "finished"


def _write_state(directory: Path, members: list[Member]) -> None:
    run_folder.write_json(
        directory / STATE,
        {
            "members": [
                {
                    "folder": os.path.relpath(member.directory, directory),
                    "seed": member.seed,
                    "settings": member.settings,
                    "status": member.status,
                    "message": member.message,
                }
                for member in members
            ]
        },
    )


def _summary(members: list[Member], started: float) -> dict[str, Any]:
    """Mean and standard error over the finished members of each numeric final metric."""
    summaries = [m.run.summary() for m in members if m.run is not None]
    summary: dict[str, Any] = {
        "members": len(members),
        "finished": len(summaries),
        "diverged": sum(m.status == "diverged" for m in members),
    }
    skip = {"step", "seconds", "steps_per_second", "resumed_from"}
    for key in summaries[0]:
        values = [s.get(key) for s in summaries]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if key in skip or len(numbers) != len(values):
            continue
        mean, error = mean_and_standard_error(numbers)
        summary[key] = mean
        summary[f"{key}_se"] = None if math.isnan(error) else error
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary
