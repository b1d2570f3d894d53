"""The EMA of G's weights: the copy that is sampled and evaluated."""

import pytest
import torch
from test_engine import make_trainer
from torch import nn

from gankit.training.ema import EMA


def test_the_update_rule_by_hand() -> None:
    # theta_ema <- beta theta_ema + (1 - beta) theta, with beta = 0.9 and a weight that is
    # 1.0 at the start and then 2.0, -1.0 and 4.0 after each step:
    # 0.9 * 1 + 0.1 * 2 = 1.1; 0.9 * 1.1 - 0.1 = 0.89; 0.9 * 0.89 + 0.4 = 1.201
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = EMA(model, 0.9)
    averages = []
    for weight in (2.0, -1.0, 4.0):
        with torch.no_grad():
            model.weight.fill_(weight)
        ema.update(model)
        averages.append(ema.module.weight.item())
    assert averages == pytest.approx([1.1, 0.89, 1.201], rel=1e-12, abs=0)
    assert model.weight.item() == 4.0  # the live weights are only read
    assert not ema.module.weight.requires_grad


def test_buffers_are_copied_not_averaged() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(model, 0.99)
    model(torch.randn(16, 3) * 5 + 2)  # training mode: the running statistics move
    ema.update(model)
    for name, live in model.named_buffers():
        averaged = dict(ema.module.named_buffers())[name]
        assert torch.equal(averaged, live), name
        assert averaged.data_ptr() != live.data_ptr()  # a copy, not the same tensor
    assert ema.module[1].num_batches_tracked.item() == 1


def test_the_trainer_averages_g_after_each_generator_step() -> None:
    trainer = make_trainer(ema=0.9, **{"generator.batch_norm": True})
    expected = [p.detach().clone() for p in trainer.generator.parameters()]
    for _ in range(3):
        trainer.train_step()
        for average, live in zip(expected, trainer.generator.parameters(), strict=True):
            average.mul_(0.9).add_(0.1 * live.detach())
    for average, got in zip(expected, trainer.ema.module.parameters(), strict=True):
        torch.testing.assert_close(got, average, rtol=1e-6, atol=1e-7)
    assert list(trainer.generator.buffers())  # batch norm's running statistics
    for live, copied in zip(trainer.generator.buffers(), trainer.ema.module.buffers(), strict=True):
        assert torch.equal(live, copied)
    assert trainer.sampling_generator is trainer.ema.module


def test_ema_zero_samples_from_g_itself() -> None:
    trainer = make_trainer(ema=0.0)
    assert trainer.ema is None
    trainer.fit(3)
    assert trainer.sampling_generator is trainer.generator
    assert trainer.state_dict()["ema"] is None
