"""The engine: what each step changes, the losses it reports, and its seeded random streams."""

import copy

import pytest
import torch
from conftest import tiny
from torch import nn

from gankit.config import load_config
from gankit.data import load_data
from gankit.nets import build_discriminator, build_generator
from gankit.objectives import OBJECTIVES
from gankit.training.engine import Trainer


def make_trainer(**overrides: object) -> Trainer:
    config = load_config(base=tiny(**overrides))
    torch.manual_seed(config.seed)
    data = load_data(config)
    return Trainer(
        config,
        data,
        build_generator(config, data.dim),
        build_discriminator(config, data.dim),
        OBJECTIVES[config.loss],
    )


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_discriminator_step_leaves_the_generator_untouched() -> None:
    trainer = make_trainer()
    g_before, d_before = snapshot(trainer.generator), snapshot(trainer.discriminator)
    trainer.discriminator_step()
    assert same(g_before, snapshot(trainer.generator))
    assert not same(d_before, snapshot(trainer.discriminator))
    assert all(p.grad is None for p in trainer.generator.parameters())


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating"])
def test_a_generator_step_leaves_the_discriminator_untouched(loss) -> None:
    trainer = make_trainer(loss=loss, ema=0.9)
    trainer.discriminator_step()
    g_before, d_before = snapshot(trainer.generator), snapshot(trainer.discriminator)
    ema_before = snapshot(trainer.ema.module)
    d_state = {k: v.clone() for k, v in trainer.d_optimizer.state_dict()["state"][0].items()}
    trainer.generator_step()
    assert same(d_before, snapshot(trainer.discriminator))
    assert not same(g_before, snapshot(trainer.generator))
    assert all(p.requires_grad for p in trainer.discriminator.parameters())
    d_state_after = trainer.d_optimizer.state_dict()["state"][0]
    assert all(torch.equal(v, d_state_after[k]) for k, v in d_state.items())
    # G's average moved, and toward the new G
    g_after, ema_after = snapshot(trainer.generator), snapshot(trainer.ema.module)
    assert not same(ema_before, ema_after)
    for old, new, live in zip(ema_before, ema_after, g_after, strict=True):
        assert (new - live).norm() < (old - live).norm()


class Spy:
    """Wraps Trainer.run_discriminator: records each batch D sees and the logits it gave."""

    def __init__(self, trainer: Trainer) -> None:
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.run = trainer.run_discriminator
        trainer.run_discriminator = self

    def __call__(
        self, x: torch.Tensor, labels: torch.Tensor | None, discriminator: nn.Module | None = None
    ) -> torch.Tensor:
        logits = self.run(x, labels, discriminator)
        self.seen.append((x.detach().clone(), logits.detach().clone()))
        return logits


def log_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    """log D = log(1 / (1 + e^-l)), written out, in float64."""
    return torch.log(1 / (1 + torch.exp(-logits.double())))


def log_one_minus_sigmoid(logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D) = log(e^-l / (1 + e^-l)), written out, in float64."""
    e = torch.exp(-logits.double())
    return torch.log(e / (1 + e))


def test_the_losses_are_the_gan_objectives_of_the_batch_d_saw() -> None:
    trainer = make_trainer(loss="minimax")
    spy = Spy(trainer)
    d_before = copy.deepcopy(trainer.discriminator)
    loss_d, real_logits, fake_logits = trainer.discriminator_step()
    (real, seen_real), (fake, seen_fake) = spy.seen
    # the real batch is the first draw of the data stream, seeded by config.seed
    stream = torch.Generator().manual_seed(trainer.config.seed)
    assert torch.equal(real, trainer.data.sample(trainer.config.batch_size, stream))
    with torch.no_grad():  # the logits of D before its step, on the batch it saw
        assert torch.equal(real_logits, d_before(real)) and torch.equal(real_logits, seen_real)
        assert torch.equal(fake_logits, d_before(fake)) and torch.equal(fake_logits, seen_fake)
    # L_D = -E[log D(x)] - E[log(1 - D(G(z)))]
    expected_d = -log_sigmoid(real_logits).mean() - log_one_minus_sigmoid(fake_logits).mean()
    assert loss_d.item() == pytest.approx(expected_d.item(), rel=1e-5)

    for loss, generator_loss in [
        ("minimax", lambda logits: log_one_minus_sigmoid(logits).mean()),  # E[log(1 - D(G(z)))]
        ("nonsaturating", lambda logits: -log_sigmoid(logits).mean()),  # -E[log D(G(z))]
    ]:
        trainer = make_trainer(loss=loss)
        spy = Spy(trainer)
        loss_g = trainer.generator_step()
        ((_, logits),) = spy.seen
        assert loss_g.item() == pytest.approx(generator_loss(logits).item(), rel=1e-5), loss


def test_each_discriminator_step_draws_a_fresh_minibatch() -> None:
    trainer = make_trainer()
    spy = Spy(trainer)
    trainer.discriminator_step()
    trainer.discriminator_step()
    (real_1, _), (fake_1, _), (real_2, _), (fake_2, _) = spy.seen
    stream, batch = torch.Generator().manual_seed(trainer.config.seed), trainer.config.batch_size
    assert torch.equal(real_1, trainer.data.sample(batch, stream))
    assert torch.equal(real_2, trainer.data.sample(batch, stream))  # the stream's next draw
    assert not torch.equal(real_1, real_2) and not torch.equal(fake_1, fake_2)


def test_k_discriminator_steps_per_generator_step() -> None:
    trainer = make_trainer(d_steps=3)
    trainer.train_step()
    assert trainer.d_optimizer.state_dict()["state"][0]["step"].item() == 3
    assert trainer.g_optimizer.state_dict()["state"][0]["step"].item() == 1
    # the same as 3 D steps then a G step by hand, from the same seed (lazy R1, every
    # r1_every = 4 D steps, falls on the first)
    manual = make_trainer(d_steps=3)
    for index in range(3):
        manual.discriminator_step(regularize=index == 0)
    manual.generator_step()
    assert same(snapshot(trainer.discriminator), snapshot(manual.discriminator))
    assert same(snapshot(trainer.generator), snapshot(manual.generator))
    # and not what one D step per G step gives
    single = make_trainer(d_steps=1)
    single.train_step()
    assert not same(snapshot(trainer.discriminator), snapshot(single.discriminator))


def test_train_step_reports_the_last_d_step_and_the_g_step() -> None:
    trainer = make_trainer(d_steps=2)
    spy = Spy(trainer)
    loss_d, loss_g, d_real, d_fake = trainer.train_step().tolist()
    _, _, (_, real_logits), (_, fake_logits), (_, g_logits) = spy.seen
    assert d_real == pytest.approx(log_sigmoid(real_logits).exp().mean().item(), rel=1e-5)
    assert d_fake == pytest.approx(log_sigmoid(fake_logits).exp().mean().item(), rel=1e-5)
    expected_d = -log_sigmoid(real_logits).mean() - log_one_minus_sigmoid(fake_logits).mean()
    assert loss_d == pytest.approx(expected_d.item(), rel=1e-5)
    assert loss_g == pytest.approx(-log_sigmoid(g_logits).mean().item(), rel=1e-5)


def test_same_config_and_seed_give_the_same_numbers() -> None:
    runs = []
    for _ in range(2):
        trainer = make_trainer(r1=0.1)
        records = []
        trainer.fit(30, hooks=[records.append])
        runs.append((records, snapshot(trainer.generator), snapshot(trainer.discriminator)))
    assert runs[0][0] == runs[1][0]
    assert same(runs[0][1], runs[1][1])
    assert same(runs[0][2], runs[1][2])


def test_a_different_seed_gives_different_numbers() -> None:
    a, b = make_trainer(seed=0), make_trainer(seed=1)
    a.fit(5)
    b.fit(5)
    assert not same(snapshot(a.generator), snapshot(b.generator))
    assert not same(snapshot(a.discriminator), snapshot(b.discriminator))


def test_sgd_and_the_uniform_prior() -> None:
    trainer = make_trainer(
        **{"generator.optimizer": "sgd", "discriminator.optimizer": "sgd", "noise.prior": "uniform"}
    )
    assert isinstance(trainer.g_optimizer, torch.optim.SGD)
    z = trainer.sample_noise(1000)
    assert z.min() >= -1 and z.max() <= 1
    trainer.fit(3)


def test_linear_decay_reaches_zero_at_the_last_step() -> None:
    trainer = make_trainer(steps=10, lr_decay="linear")
    trainer.fit(10)
    assert trainer.g_optimizer.param_groups[0]["lr"] == 0.0


def test_fit_logs_every_log_every_steps_and_evaluates_on_schedule() -> None:
    trainer = make_trainer(log_every=10, eval_every=20)
    records = []
    trainer.fit(40, hooks=[records.append], evaluate=lambda: {"metric": 1.0})
    assert [r["step"] for r in records] == [10, 20, 30, 40]
    assert ["metric" in r for r in records] == [False, True, False, True]
    assert set(records[0]) == {"step", "loss_d", "loss_g", "d_real", "d_fake"}


def test_a_packed_discriminator_judges_m_samples_at_once() -> None:
    trainer = make_trainer(pack=4, batch_size=64)
    x = torch.randn(64, 2)
    logits = trainer.discriminator(x)
    assert logits.shape == (16,)
    inner = trainer.discriminator.discriminator
    assert torch.allclose(logits[1], inner(x[4:8].reshape(1, 8))[0])
    trainer.fit(3)


def test_pack_must_divide_the_batch() -> None:
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="must be a multiple of pack"):
        load_config(base=tiny(pack=3, batch_size=64))
