"""Population training: members follow their single runs, resume together, diverge alone."""

import itertools
import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.cli import main
from gankit.config import load_config
from gankit.data import load_data
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.stacked import stack
from gankit.training.engine import build_trainer
from gankit.training.population import (
    Population,
    _member_data,
    drawing_from,
    member_configs,
    own_stream,
)

TINY = {
    "data": "ring8",
    "steps": 40,
    "batch_size": 32,
    "log_every": 10,
    "eval_every": 20,
    "eval_samples": 200,
    "checkpoint_every": 10,
    "progress": False,
    "tensorboard": False,
    "generator.hidden": [16, 16],
    "discriminator.hidden": [16, 16],
}


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-12))


@pytest.mark.parametrize(
    "settings",
    [
        {"population.seeds": 3},  # the default ring8 MLPs: batch norm in G, R1 every 4 D steps
        {"population.sweep.generator.lr": [1e-4, 1e-3], "pack": 2, "lr_decay": "constant"},
        {
            "population.sweep.generator.momentum": [0.0, 0.9],
            "generator.optimizer": "sgd",
            "discriminator.optimizer": "sgd",
            "generator.lr": 0.01,
            "discriminator.lr": 0.01,
        },
        {"data": "labelled", "conditional": True, "pack": 2},  # the class one-hot beside z, x
        # the digits defaults: a conditional DCGAN, augmented, with R1; narrower, for speed
        {"data": "digits", "generator.width": 16, "discriminator.width": 16},
        # with ADA moving each member's p at every D step (its own r_t and p, in the stats)
        {
            "data": "digits",
            "generator.width": 8,
            "discriminator.width": 8,
            "augment.adaptive": True,
            "augment.p": 0.0,
            "augment.interval": 1,
            "augment.ada_kimg": 0.5,
        },
        # the table defaults (conditions, Gumbel-softmax, dropout, packs of 10); narrower
        {
            "data": "penguins",
            "batch_size": 100,
            "generator.hidden": [64, 64],
            "discriminator.hidden": [64, 64],
        },
    ],
)
def test_each_member_follows_its_single_run(settings, tmp_path) -> None:
    """Up to rounding: losses within 1e-4 over the first 15 steps (weights within 1e-3 at
    step 15); GAN training amplifies the rounding of batched kernels, so some MLP members
    drift further by step 50 (losses within 1e-2). A DCGAN member's convolutions are its
    single run's own kernels on a CPU (nets/stacked.py), and it stays within 1e-4 to step 50."""
    if settings.get("data") == "labelled":  # three labelled clusters of 2D points
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 3, 600)
        points = rng.normal(size=(600, 2)).astype(np.float32) + 3 * labels[:, None]
        np.savez(tmp_path / "labelled.npz", x=points, labels=labels)
        settings = {**settings, "data": str(tmp_path / "labelled.npz"), "population.seeds": 2}
    close_to = 15
    if settings.get("data") in ("digits", "penguins"):
        settings, close_to = {**settings, "population.seeds": 2}, 50
    config = load_config(base={"data": "ring8", "steps": 1000, **settings})
    data = load_data(config)
    configs = member_configs(config)

    def started(member):  # a trainer, and torch's global stream where its run has it then
        trainer = build_trainer(member, data)
        return trainer, own_stream(trainer.device)

    singles = [started(member) for member in configs]
    population = Population(*zip(*[started(member) for member in configs], strict=True))
    for step in range(1, 51):
        stats = population.train_step()
        for row, (single, stream) in enumerate(singles):
            with drawing_from(stream):  # a table's dropout and Gumbel noise: its run's draws
                alone = single.train_step()
            assert relative(stats[row], alone) < (1e-4 if step <= close_to else 1e-2)
        if step == 15:
            for index, (single, _) in enumerate(singles):
                assert_same_state(population, index, single)


def cancelled_by_batch_norm(network: torch.nn.Module) -> set[str]:
    """The biases of layers followed by batch norm, and that norm's running mean: BN
    subtracts the bias again, so its gradient is 0 but for rounding, which Adam scales up to
    full steps. They change nothing G computes in training, and follow no single run."""
    if hasattr(network, "ups"):  # DCGAN: the projection and each transposed convolution
        before = ["project", *(f"ups.{i}" for i in range(len(network.ups)))]
        return {
            name
            for i, layer in enumerate(before)
            for name in (f"{layer}.bias", f"norms.{i}.norm.running_mean")
        }
    prefix = "body" if hasattr(network, "body") else "net"  # a table G's layers: its body
    layers = list(getattr(network, prefix, []))
    return {
        name
        for i, (layer, after) in enumerate(itertools.pairwise(layers))
        if isinstance(layer, torch.nn.Linear) and isinstance(after, torch.nn.BatchNorm1d)
        for name in (f"{prefix}.{i}.bias", f"{prefix}.{i + 1}.running_mean")
    }


def assert_same_state(population: Population, index: int, single) -> None:
    """Each network's weights (as one vector) and its EMA match the single run's, and each
    member's optimizer holds its own step count and learning rate."""
    population.store(index)
    member = population.trainers[index]
    assert member.step == single.step
    skip = cancelled_by_batch_norm(single.generator)

    def vector(state: dict, names) -> torch.Tensor:
        return torch.cat([state[name].float().flatten() for name in names])

    pairs = [(member.discriminator, single.discriminator), (member.generator, single.generator)]
    pairs.append((member.ema.module, single.ema.module))
    for ours, theirs in pairs:
        names = [name for name in theirs.state_dict() if name not in skip]
        names = [name for name in names if "num_batches" not in name]
        assert relative(vector(ours.state_dict(), names), vector(theirs.state_dict(), names)) < 1e-3
    ours, theirs = member.state_dict(), single.state_dict()
    skipped = {
        str(i) for i, (name, _) in enumerate(single.generator.named_parameters()) if name in skip
    }
    for optimizer in ("g_optimizer", "d_optimizer"):
        assert ours[optimizer]["param_groups"] == theirs[optimizer]["param_groups"]
        assert ours[optimizer]["state"].keys() == theirs[optimizer]["state"].keys()
        for key, state in theirs[optimizer]["state"].items():
            assert ours[optimizer]["state"][key].keys() == state.keys()
            if "step" in state:  # Adam's t
                assert float(ours[optimizer]["state"][key]["step"]) == float(state["step"])
            if "momentum_buffer" in state and (optimizer == "d_optimizer" or key not in skipped):
                buffer = ours[optimizer]["state"][key]["momentum_buffer"]
                assert relative(buffer, state["momentum_buffer"]) < 1e-3


def test_members_differ_only_by_seed_and_swept_settings() -> None:
    config = load_config(base={**TINY, "seed": 4, "population.sweep.r1": [0.0, 2.0, 5.0]})
    members = member_configs(config)
    assert [m.seed for m in members] == [4, 5, 6]
    assert [m.r1 for m in members] == [0.0, 2.0, 5.0]
    assert all(m.population.seeds == 1 and not m.population.sweep for m in members)
    assert "population" not in "".join(members[1].sources)


def test_a_population_writes_a_run_folder_per_member_and_a_summary(tmp_path) -> None:
    result = gankit.train({**TINY, "population.seeds": 3}, out=tmp_path / "p")
    state = json.loads((tmp_path / "p" / "population.json").read_text())
    assert [m["folder"] for m in state["members"]] == ["seed-0", "seed-1", "seed-2"]
    assert {m["status"] for m in state["members"]} == {"finished"}
    summaries = [run.summary() for run in result.runs]
    assert [s["step"] for s in summaries] == [40, 40, 40]
    summary = result.summary()
    values = [s["frechet"] for s in summaries]
    mean = sum(values) / 3
    assert summary["frechet"] == pytest.approx(mean)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / 2 / 3)
    assert summary["frechet_se"] == pytest.approx(spread)
    member = gankit.load(tmp_path / "p" / "seed-1")  # an ordinary run folder
    assert member.config.seed == 1 and member.sample(5).shape == (5, 2)
    assert member.evaluate()["frechet"] == pytest.approx(summaries[1]["frechet"])


TINY_DIGITS = {  # the digits defaults (conditional DCGAN, augmentation, R1), small and short
    **{key: value for key, value in TINY.items() if not key.endswith(".hidden")},
    "data": "digits",
    "generator.width": 8,
    "discriminator.width": 8,
    "eval_samples": 100,
}


def train_killed_at_step_25(settings: dict, out, monkeypatch) -> None:
    """Train a population that is stopped after step 25, as if killed between checkpoints."""
    step = Population.train_step

    def killed(self: Population) -> torch.Tensor:
        if self.trainers[0].step == 25:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(Population, "train_step", killed)
    with pytest.raises(KeyboardInterrupt):
        gankit.train(settings, out=out)
    monkeypatch.setattr(Population, "train_step", step)


TINY_PENGUINS = {**TINY, "data": "penguins", "batch_size": 100}  # the table nets, narrower


@pytest.mark.parametrize(
    ("tiny", "draws"),
    [
        (TINY, "own"),
        (TINY_DIGITS, "own"),
        (TINY_DIGITS, "shared"),  # the batches, noise and augmentation drawn at once
    ],
    ids=["mlp", "dcgan", "dcgan-shared-draws"],
)
def test_a_killed_population_resumes_every_member(tiny, draws, tmp_path, monkeypatch) -> None:
    settings = {**tiny, "population.seeds": 2, "population.draws": draws}
    gankit.train(settings, out=tmp_path / "whole")
    train_killed_at_step_25(settings, tmp_path / "killed", monkeypatch)
    state = json.loads((tmp_path / "killed" / "population.json").read_text())
    assert {m["status"] for m in state["members"]} == {"training"}
    resumed = gankit.resume(tmp_path / "killed")
    assert [run.summary()["resumed_from"] for run in resumed.runs] == [20, 20]
    for seed in range(2):
        whole = load_file(tmp_path / "whole" / f"seed-{seed}" / "model.safetensors")
        again = load_file(tmp_path / "killed" / f"seed-{seed}" / "model.safetensors")
        for name, tensor in whole.items():
            assert torch.equal(tensor, again[name]), (seed, name)


@pytest.mark.parametrize("data", ["ring8", "digits", "penguins"])
def test_shared_draws_give_each_member_its_own_rows_of_one_draw(data) -> None:
    """population.draws=shared: one draw of data and noise for all members at a step, split
    into a row each; the members' own streams are left alone, and the draws (a table's Gumbel
    noise and dropout masks too) depend on the population's seed and step only, so that two
    populations built alike take the same steps (which is what a resumed one relies on)."""
    tiny = {"ring8": TINY, "digits": TINY_DIGITS, "penguins": TINY_PENGUINS}[data]
    settings = {**tiny, "population.seeds": 3}
    configs = member_configs(load_config(base=settings))
    data = load_data(configs[0])

    def population(draws: str) -> Population:
        trainers = [build_trainer(member, data) for member in configs]
        return Population(trainers, [own_stream(t.device) for t in trainers], draws)

    shared, again = population("shared"), population("shared")
    members = shared.trainers

    def own_states() -> list[torch.Tensor]:  # data, noise and (tables) Gumbel/dropout streams
        streams = [g for t in members for g in (t.data_rng, t.noise_rng)] + shared.streams
        return [g.get_state() for g in streams]

    before = own_states()
    batches = []
    for each in (shared, again):
        each._reseed(7)
        batches.append((*each._real_batches(members), each._noise(members)))
    (real, labels, noise), (real_again, labels_again, noise_again) = batches
    assert real.shape[0] == noise.shape[0] == 3
    assert torch.equal(real, real_again) and torch.equal(noise, noise_again)
    if labels is not None:
        assert labels.shape == (3, tiny["batch_size"]) and torch.equal(labels, labels_again)
    for a, b in itertools.combinations(range(3), 2):
        assert not torch.equal(real[a], real[b]) and not torch.equal(noise[a], noise[b])
    shared._reseed(8)
    assert not torch.equal(shared._noise(members), noise)
    for _ in range(3):  # the same steps from the same draws, which a resume relies on
        assert torch.equal(shared.train_step(), again.train_step())
    for network in ("generator", "discriminator"):
        assert torch.equal(getattr(shared, network).flat, getattr(again, network).flat)
    assert all(shared.finite(shared.train_step()))
    assert all(torch.equal(a, b) for a, b in zip(before, own_states(), strict=True))


def test_shared_draws_keep_each_members_own_images_under_a_subset_sweep() -> None:
    """Members that train on their own subsets of the images draw their real batches from
    them, each from its own stream, though the population shares its other draws."""
    settings = {**TINY_DIGITS, "image.train_fraction": 0.1, "population.seeds": 2}
    config = load_config(base={**settings, "population.sweep.image.subset_seed": [3, 7]})
    data = load_data(config)
    members = member_configs(config)
    trainers = [build_trainer(m, _member_data(config, m, data)) for m in members]
    population = Population(trainers, [own_stream(t.device) for t in trainers], "shared")
    population._reseed(0)
    real, _ = population._real_batches(trainers)
    for row, trainer in enumerate(trainers):
        own = {image.numpy().tobytes() for image in trainer.data.images}
        assert all(image.numpy().tobytes() in own for image in real[row])
    assert not population.one_data


def test_shared_draws_augment_each_members_images_with_its_own_p() -> None:
    """With shared draws all members' images are augmented at once, each with its member's p
    (ADA moves the members' p apart): p = 0 leaves a member's images as they are."""
    configs = member_configs(load_config(base={**TINY_DIGITS, "population.seeds": 2}))
    data = load_data(configs[0])
    trainers = [build_trainer(member, data) for member in configs]
    population = Population(trainers, [own_stream(t.device) for t in trainers], "shared")
    trainers[0].augment.p, trainers[1].augment.p = 0.0, 1.0
    population._reseed(0)
    x, labels = population._real_batches(trainers)
    with torch.no_grad():
        augmented = population._discriminate(trainers, x, labels)
        plain = population.discriminator(x, labels)
    assert torch.equal(augmented[0], plain[0]) and not torch.equal(augmented[1], plain[1])


def test_a_member_folder_resumes_as_a_single_run(tmp_path, monkeypatch) -> None:
    train_killed_at_step_25({**TINY, "population.seeds": 2}, tmp_path / "p", monkeypatch)
    assert main(["train", "--resume", str(tmp_path / "p" / "seed-1")]) == 0
    summary = gankit.load(tmp_path / "p" / "seed-1").summary()
    assert (summary["step"], summary["resumed_from"]) == (40, 20)


def test_a_subset_sweep_trains_each_member_on_its_single_runs_images(tmp_path) -> None:
    """``population.sweep.image.subset_seed``: member s draws the subset of the images that
    its single run draws, and follows that run (a member given the population's subset would
    see other images from step 1)."""
    settings = {**TINY_DIGITS, "steps": 20, "eval_every": 20, "image.train_fraction": 0.1}
    sweep = {"population.seeds": 2, "population.sweep.image.subset_seed": [3, 7]}
    population = gankit.train({**settings, **sweep}, out=tmp_path / "p")
    subsets = []
    for seed, subset in ((0, 3), (1, 7)):
        single = gankit.train(
            {**settings, "seed": seed, "image.subset_seed": subset}, out=tmp_path / f"s{seed}"
        )
        member = population.runs[seed]
        assert member.config.image.subset_seed == subset
        assert torch.equal(member.data.images, single.data.images)
        subsets.append(member.data.images)
        ours, theirs = (
            [json.loads(line) for line in (run.directory / "metrics.jsonl").open()]
            for run in (member, single)
        )
        for a, b in zip(ours, theirs, strict=True):
            assert a["loss_d"] == pytest.approx(b["loss_d"], rel=1e-4)
            assert a["loss_g"] == pytest.approx(b["loss_g"], rel=1e-4)
    assert not torch.equal(*subsets)


def test_a_killed_table_population_resumes_to_its_single_runs(tmp_path, monkeypatch) -> None:
    """A table run draws its dropout and Gumbel noise from torch's global stream, and its
    checkpoints keep that stream's state; each member draws its own run's share of it and
    checkpoints that, so killed and resumed it logs the losses of its single run (up to the
    rounding of batched kernels)."""
    settings = {
        **{key: value for key, value in TINY.items() if not key.endswith(".hidden")},
        "data": "penguins",
        "steps": 30,
        "eval_every": 30,  # a table's evaluation is slow; the losses are what is compared
        "batch_size": 100,
        "generator.hidden": [32, 32],
        "discriminator.hidden": [32, 32],
    }

    def losses(folder) -> list[float]:
        records = [json.loads(line) for line in (folder / "metrics.jsonl").open()]
        return [r[key] for r in records for key in ("loss_d", "loss_g")]

    train_killed_at_step_25({**settings, "population.seeds": 2}, tmp_path / "p", monkeypatch)
    assert main(["train", "--resume", str(tmp_path / "p")]) == 0
    for seed in (0, 1):
        gankit.train({**settings, "seed": seed}, out=tmp_path / f"s{seed}")
        ours, theirs = losses(tmp_path / "p" / f"seed-{seed}"), losses(tmp_path / f"s{seed}")
        assert len(ours) == len(theirs) == 6
        assert relative(torch.tensor(ours), torch.tensor(theirs)) < 1e-3


@pytest.fixture
def poison_member(monkeypatch):
    """NaN into member ``index``'s first G weight once the population reaches ``step``."""

    def arm(index: int, step: int) -> None:
        train_step = Population.train_step
        poisoned: list[int] = []

        def poisoned_step(self: Population) -> torch.Tensor:
            stats = train_step(self)
            if self.trainers[index].step == step and not poisoned and index in self.active:
                slot = self.generator.param_slots[0]
                with torch.no_grad():
                    slot.view(self.generator.flat)[self.active.index(index)].fill_(math.nan)
                poisoned.append(step)
            return stats

        monkeypatch.setattr(Population, "train_step", poisoned_step)

    return arm


def test_a_diverging_member_stops_alone(tmp_path, poison_member) -> None:
    settings = {**TINY, "population.seeds": 3}
    gankit.train(settings, out=tmp_path / "clean")
    poison_member(1, step=15)
    result = gankit.train(settings, out=tmp_path / "p")
    state = json.loads((tmp_path / "p" / "population.json").read_text())
    assert [m["status"] for m in state["members"]] == ["finished", "diverged", "finished"]
    assert "generator's parameters became NaN or Inf at step 15" in state["members"][1]["message"]
    assert not (tmp_path / "p" / "seed-1" / "summary.json").exists()
    assert (tmp_path / "p" / "seed-1" / "checkpoints" / "step-00000010.safetensors").is_file()
    assert len(result.runs) == 2 and result.summary()["diverged"] == 1
    for seed in (0, 2):  # the others trained on as if nothing happened (up to rounding)
        clean = load_file(tmp_path / "clean" / f"seed-{seed}" / "model.safetensors")
        ours = load_file(tmp_path / "p" / f"seed-{seed}" / "model.safetensors")
        names = [name for name in clean if name.startswith("discriminator.")]
        vector = [torch.cat([state[n].flatten() for n in names]) for state in (ours, clean)]
        assert relative(*vector) < 1e-3


def test_a_diverging_member_restores_alone(tmp_path, poison_member) -> None:
    poison_member(0, step=15)
    gankit.train({**TINY, "population.seeds": 2, "on_divergence": "restore"}, out=tmp_path / "p")
    state = json.loads((tmp_path / "p" / "population.json").read_text())
    assert [m["status"] for m in state["members"]] == ["finished", "finished"]
    records = [json.loads(line) for line in (tmp_path / "p" / "seed-0" / "metrics.jsonl").open()]
    assert [r["step"] for r in records] == [10, 20, 30, 40]  # steps 11-15 were rewound


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["population.seeds=0"], "'population.seeds' must be >= 1"),
        (["population.sweep.generator.hidden=[[8],[16]]"], "changes the networks' shapes"),
        (["population.sweep.image.train_fraction=[0.1,0.2]"], "changes the networks' shapes"),
        (
            ["population.seeds=2", "population.sweep.generator.lr=[1e-4,5e-4,1e-3]"],
            "lists 3 values but population.seeds is 2",
        ),
        (["population.sweep.steps=[10,20]"], "cannot differ between members"),
        (["data=digits", "model=resnet", "population.seeds=2"], "stacks MLPs, DCGANs and table"),
        (
            ["data=digits", "discriminator.spectral_norm=true", "population.seeds=2"],
            "does not stack spectral norm",
        ),
        (["data=digits", "channels_last=true", "population.seeds=2"], "set channels_last=false"),
        (["population.draws=mine"], "'population.draws' must be one of auto, own, shared"),
        (["population.sweep.ema=[]"], "one per member, in brackets: population.sweep.ema=[V1"),
    ],
)
def test_bad_population_settings_are_one_line_and_exit_2(
    tmp_path, capsys, overrides, message
) -> None:
    assert main(["train", "--out", str(tmp_path / "p"), *overrides]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "p").exists()


def test_a_population_under_torchrun_is_refused(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--out", str(tmp_path / "p"), "population.seeds=2"]) == 2
    assert "without torchrun" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("draws", ["own", "shared"])
def test_five_members_score_as_five_single_runs(draws, tmp_path) -> None:
    """Over 5 seeds, the population's final metrics and the separate runs' means differ by no
    more than their two standard errors together, whether the members draw their batches as
    their single runs do or share one draw."""
    settings = {**TINY, "steps": 2000, "eval_every": 2000, "eval_samples": 2500}
    settings["generator.hidden"] = settings["discriminator.hidden"] = [64, 64]
    population = gankit.train(
        {**settings, "population.seeds": 5, "population.draws": draws}, out=tmp_path / "p"
    )
    separate = [
        gankit.train({**settings, "seed": seed}, out=tmp_path / f"s{seed}").summary()
        for seed in range(5)
    ]
    together = [run.summary() for run in population.runs]
    for metric in ("frechet", "high_quality", "modes"):
        a = torch.tensor([s[metric] for s in together], dtype=torch.float64)
        b = torch.tensor([s[metric] for s in separate], dtype=torch.float64)
        errors = math.sqrt(a.var() / 5) + math.sqrt(b.var() / 5)
        assert abs(float(a.mean() - b.mean())) <= errors + 1e-9, metric


@pytest.mark.parametrize("classes", [0, 3], ids=["unconditional", "conditional"])
@pytest.mark.parametrize("grouped", [False, True], ids=["in turn", "grouped"])
def test_a_stacked_dcgan_computes_each_members_own_output(grouped, classes) -> None:
    """G and D of three DCGAN members, stacked, give each member's own output, with the
    convolutions run in turn (the CPU's way) or as one grouped convolution (CUDA's)."""
    torch.manual_seed(0)
    shape = (1, 16, 16)
    generators = [DCGANGenerator(8, shape, width=8, num_classes=classes) for _ in range(3)]
    discriminators = [DCGANDiscriminator(shape, width=8, num_classes=classes) for _ in range(3)]
    z, labels = torch.randn(3, 10, 8), torch.randint(max(classes, 1), (3, 10))
    labels = labels if classes else None
    for members, inputs in ((generators, z), (discriminators, torch.randn(3, 10, 1, 16, 16))):
        stacked = stack(members)
        stacked.grouped = grouped
        together = stacked(inputs, labels)
        for row, member in enumerate(members):
            alone = member(inputs[row], None if labels is None else labels[row])
            assert relative(together[row].detach(), alone.detach()) < 1e-5
