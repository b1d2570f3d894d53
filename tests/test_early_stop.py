import json

import pytest
import torch
from conftest import tiny
from safetensors.torch import load_file
from torch import nn

import gankit
from gankit.cli import main
from gankit.config import load_config
from gankit.training.early_stop import EarlyStop
from gankit.training.engine import Trainer

# Nothing after the first evaluation counts as better: the run stops after `patience` more.
NEVER_BETTER = {
    "steps": "auto",
    "stop.max_steps": 1000,
    "stop.patience": 2,
    "stop.min_delta": 1e9,
    "lr_decay": "constant",  # the same learning rates as a run of 20 steps
}


def test_steps_auto_stops_on_the_metric_of_the_data_kind_with_a_cap() -> None:
    images = load_config(overrides=["data=digits", "steps=auto"])
    assert (images.steps, images.stop.metric) == (images.stop.max_steps, "auto")
    assert images.stop.max_steps == 20000
    assert load_config(overrides=["data=penguins", "steps=auto"]).steps == 7000
    table = load_config(overrides=["data=fair"])  # tables stop early by default
    assert (table.steps, table.stop.metric) == (7000, "auto")
    fixed = load_config(overrides=["data=fair", "steps=2000"])
    assert (fixed.steps, fixed.stop.metric) == (2000, "none")
    assert load_config(overrides=["steps=auto", "stop.max_steps=300"]).steps == 300
    named = load_config(overrides=["steps=auto", "stop.metric=high_quality"])
    assert named.stop.metric == "high_quality"
    assert "auto" in named.to_yaml().splitlines()[1]  # config.yaml says where the cap came from


def test_early_stop_keeps_the_best_and_stops_after_patience_evaluations() -> None:
    net = nn.Linear(2, 1)
    watch = EarlyStop("class_accuracy", patience=3, min_delta=0.0)
    stops = []
    for step, accuracy in zip([1, 2, 3, 4, 5], [0.5, 0.8, 0.7, 0.8, 0.6], strict=True):
        with torch.no_grad():
            net.weight.fill_(step)
        stops.append(watch.observe(accuracy, step, {"g": net}))
    assert stops == [False, False, False, False, True]  # 0.8 again is not better
    assert (watch.best, watch.best_step, watch.stopped_at) == (0.8, 2, 5)
    watch.restore_best({"g": net})
    assert torch.equal(net.weight, torch.full((1, 2), 2.0))
    lower = EarlyStop("frechet", patience=2, min_delta=0.5)
    assert [lower.observe(v, s, {}) for s, v in enumerate([3.0, 2.6, 2.0])] == [False] * 3
    assert (lower.best, lower.best_step, lower.waited) == (2.0, 2, 0)  # 0.4 lower was not enough


def test_a_run_with_steps_auto_stops_says_why_and_keeps_its_best_networks(tmp_path) -> None:
    gankit.train(tiny(**NEVER_BETTER), out=tmp_path / "auto")
    summary = json.loads((tmp_path / "auto" / "summary.json").read_text())
    stop = summary["early_stop"]
    assert (stop["metric"], stop["best_step"], stop["stopped_at"]) == ("frechet", 20, 60)
    assert "frechet had not fallen for 2 evaluations" in stop["reason"]
    records = (tmp_path / "auto" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(records[-1])["step"] == 60
    # the networks kept are those of step 20: the same as a run of 20 steps
    plain = gankit.train(tiny(steps=20, lr_decay="constant"), out=tmp_path / "plain")
    kept = load_file(tmp_path / "auto" / "model.safetensors")
    for name, tensor in load_file(tmp_path / "plain" / "model.safetensors").items():
        assert torch.equal(kept[name], tensor), name
    assert summary["frechet"] == plain.summary()["frechet"]


def test_a_killed_run_with_steps_auto_resumes_to_the_same_stop(tmp_path, monkeypatch) -> None:
    settings = tiny(**NEVER_BETTER, checkpoint_every=20)
    gankit.train(settings, out=tmp_path / "whole")
    step = Trainer.train_step

    def killed(self: Trainer) -> torch.Tensor:
        if self.step == 50:
            raise KeyboardInterrupt  # as if killed between checkpoints
        return step(self)

    monkeypatch.setattr(Trainer, "train_step", killed)
    with pytest.raises(KeyboardInterrupt):
        gankit.train(settings, out=tmp_path / "killed")
    monkeypatch.setattr(Trainer, "train_step", step)
    resumed = gankit.resume(tmp_path / "killed")
    assert resumed.summary()["early_stop"]["stopped_at"] == 60
    whole = load_file(tmp_path / "whole" / "model.safetensors")
    for name, tensor in load_file(tmp_path / "killed" / "model.safetensors").items():
        assert torch.equal(whole[name], tensor), name


def test_a_table_run_stops_on_the_quality_score(tmp_path) -> None:
    settings = {
        "data": "penguins",
        **NEVER_BETTER,
        "batch_size": 100,
        "eval_every": 10,
        "eval_samples": 200,
        "progress": False,
    }
    run = gankit.train(settings, out=tmp_path / "table")
    stop = run.summary()["early_stop"]
    assert (stop["metric"], stop["best_step"], stop["stopped_at"]) == ("quality", 10, 30)


def test_population_members_stop_early_each_with_its_own_reason(tmp_path) -> None:
    population = gankit.train(tiny(**NEVER_BETTER, **{"population.seeds": 2}), out=tmp_path)
    for run in population.runs:
        assert run.summary()["early_stop"]["stopped_at"] == 60


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stop.metric=acuracy"], "stop.metric='acuracy' is not a metric a run can stop on"),
        (["stop.metric=class_accuracy"], "reported for conditional images only"),
        (["stop.metric=quality"], "stop.metric=quality is reported for tables only"),
        (["data=digits", "conditional=false", "stop.metric=class_accuracy"], "(unconditional)"),
        (["steps=soon"], "config key 'steps' expects an integer or auto"),
        (["stop.patience=0"], "config key 'stop.patience' must be >= 1"),
    ],
)
def test_bad_stop_settings_are_one_line_and_exit_2(argv, message, tmp_path, capsys) -> None:
    assert main(["train", "--out", str(tmp_path / "run"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()
