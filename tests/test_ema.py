"""The EMA of G's weights: the copy that is sampled and evaluated."""

import torch
from test_engine import make_trainer


def test_the_ema_follows_g_by_its_decay() -> None:
    trainer = make_trainer(ema=0.9)
    before = [p.clone() for p in trainer.ema.module.parameters()]
    trainer.generator_step()
    for old, new, live in zip(
        before, trainer.ema.module.parameters(), trainer.generator.parameters(), strict=True
    ):
        assert torch.allclose(new, 0.9 * old + 0.1 * live)


def test_a_generator_without_batch_norm_has_no_buffers_to_copy() -> None:
    trainer = make_trainer(**{"generator.batch_norm": False})
    assert not list(trainer.generator.buffers())
    trainer.fit(3)
    assert trainer.ema is not None
