import pytest
import torch
from conftest import tiny

from gankit.config import load_config
from gankit.data import load_data
from gankit.nets import build_discriminator, build_generator
from gankit.objectives import OBJECTIVES
from gankit.train.engine import Trainer


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
    trainer = make_trainer(loss=loss)
    trainer.discriminator_step()
    g_before, d_before = snapshot(trainer.generator), snapshot(trainer.discriminator)
    d_state = {k: v.clone() for k, v in trainer.d_optimizer.state_dict()["state"][0].items()}
    trainer.generator_step()
    assert same(d_before, snapshot(trainer.discriminator))
    assert not same(g_before, snapshot(trainer.generator))
    assert all(p.requires_grad for p in trainer.discriminator.parameters())
    d_state_after = trainer.d_optimizer.state_dict()["state"][0]
    assert all(torch.equal(v, d_state_after[k]) for k, v in d_state.items())


def test_k_discriminator_steps_per_generator_step() -> None:
    trainer = make_trainer(d_steps=3)
    trainer.train_step()
    assert trainer.d_optimizer.state_dict()["state"][0]["step"].item() == 3
    assert trainer.g_optimizer.state_dict()["state"][0]["step"].item() == 1


def test_each_discriminator_step_draws_a_fresh_minibatch() -> None:
    trainer = make_trainer()
    first = trainer.data.sample(8, trainer.data_rng)
    second = trainer.data.sample(8, trainer.data_rng)
    assert not torch.equal(first, second)


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
