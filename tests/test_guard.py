"""The divergence guard: NaN or Inf stops the step, names the network and step, and restores."""

import json
import math

import pytest
import torch
from conftest import tiny
from test_engine import make_trainer

from gankit.cli import main
from gankit.errors import DivergenceError
from gankit.training.checkpoint import read_checkpoint
from gankit.training.engine import Trainer
from gankit.training.guard import MAX_RESTORES

CLI_TINY = [
    f"{key}={','.join(map(str, v)) if isinstance(v, list) else v}" for key, v in tiny().items()
]


@pytest.fixture
def poison(monkeypatch):
    """poison(network, step, times): NaN into the first weight of that network after that step."""

    def arm(network: str, step: int, times: int = 1) -> list[int]:
        poisoned: list[int] = []
        train_step = Trainer.train_step

        def poisoned_step(self: Trainer) -> torch.Tensor:
            stats = train_step(self)
            if self.step == step and len(poisoned) < times:
                with torch.no_grad():
                    next(getattr(self, network).parameters())[0, 0] = math.nan
                poisoned.append(self.step)
            return stats

        monkeypatch.setattr(Trainer, "train_step", poisoned_step)
        return poisoned

    return arm


def test_nan_in_a_loss_names_the_network_and_the_step() -> None:
    trainer = make_trainer()
    trainer.fit(3)
    trainer.data.sample = lambda n, generator=None: torch.full((n, 2), math.nan)
    with pytest.raises(
        DivergenceError, match="the discriminator's loss became NaN or Inf at step 4"
    ):
        trainer.fit(10)


def test_nan_in_a_parameter_names_the_network_and_the_step(poison) -> None:
    poison("generator", step=5)
    trainer = make_trainer()
    with pytest.raises(DivergenceError) as error:
        trainer.fit(10)
    assert str(error.value) == "the generator's parameters became NaN or Inf at step 5"
    assert (error.value.network, error.value.step) == ("generator", 5)


def test_stop_keeps_the_last_good_checkpoint(tmp_path, poison, capsys) -> None:
    poison("discriminator", step=25)
    run = tmp_path / "run"
    # A divergence is not bad input (2): it has an exit status of its own.
    assert main(["train", "--out", str(run), *CLI_TINY, "checkpoint_every=10"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "gankit: diverged: the discriminator's parameters became NaN or Inf at step 25; "
        "the last good checkpoint is step 20"
    )
    assert "or set on_divergence=restore" in err
    newest = read_checkpoint(run / "checkpoints" / "step-00000020.safetensors")
    assert all(t.isfinite().all() for t in newest.state["trainer"]["discriminator"].values())
    assert not (run / "checkpoints" / "step-00000030.safetensors").exists()
    assert not (run / "model.safetensors").exists()


def test_restore_goes_back_and_continues_at_a_lower_learning_rate(tmp_path, poison, capsys):
    poison("discriminator", step=25)
    run = tmp_path / "run"
    settings = ["checkpoint_every=10", "on_divergence=restore", "divergence_lr_factor=0.25"]
    assert main(["train", "--out", str(run), *CLI_TINY, *settings]) == 0
    err = capsys.readouterr().err
    assert (
        "gankit: the discriminator's parameters became NaN or Inf at step 25; "
        "went back to step 20 with the learning rates x0.25"
    ) in err
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30, 40]  # none twice
    final = read_checkpoint(run / "checkpoints" / "step-00000040.safetensors").state["trainer"]
    base_lrs = [scheduler["base_lrs"] for scheduler in final["schedulers"]]
    assert base_lrs == [[5e-4 * 0.25], [5e-4 * 0.25]]
    assert all(t.isfinite().all() for t in final["discriminator"].values())


def test_restore_gives_up_after_repeated_divergence(tmp_path, poison, capsys) -> None:
    poisoned = poison("generator", step=15, times=MAX_RESTORES + 1)
    run = tmp_path / "run"
    settings = ["checkpoint_every=10", "on_divergence=restore"]
    assert main(["train", "--out", str(run), *CLI_TINY, *settings]) == 3
    err = capsys.readouterr().err.splitlines()
    assert len(poisoned) == MAX_RESTORES + 1
    assert [line.rsplit(" ", 1)[-1] for line in err[:-1]] == ["x0.5", "x0.25", "x0.125"]
    assert err[-1].startswith(
        "gankit: diverged: the generator's parameters became NaN or Inf at step 15 "
        f"after {MAX_RESTORES} restores at lower learning rates; "
        "the last good checkpoint is step 10"
    )
