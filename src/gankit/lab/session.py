"""One lab session: gankit's Trainer on a chosen problem, stepped by a worker thread.

The page's commands (play, pause, one D step, one G step, one full step, reset) and control
changes arrive from the web server's threads; every use of the trainer holds one lock, so a
command applies between two steps. Each change of G or D publishes a frame (the JSON the page
draws), and its numbers join a bounded, thinned history: the curves, the saved run's
``metrics.jsonl`` and the frames of the HTML replay.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.data import load_data
from gankit.data.vectors import Standardizer, VectorData
from gankit.errors import ConfigError, DivergenceError, GankitError
from gankit.evaluation import Evaluator
from gankit.lab.estimates import js_floor
from gankit.lab.history import ThinnedHistory
from gankit.lab.problems import MODE_PROBLEMS, PROBLEMS, build_problem, view_bounds
from gankit.lab.settings import LIVE, change, lab_config
from gankit.lab.view import FAKES, View
from gankit.objectives import OBJECTIVES
from gankit.output import run_folder, sample_files
from gankit.output.figures import plot_losses, plot_samples
from gankit.run import Run
from gankit.training.ema import EMA
from gankit.training.engine import build_trainer

CURVE_POINTS = 1000  # points kept of each curve
REPLAY_FRAMES = 240  # frames kept for the HTML replay
FRAME_SECONDS = 1 / 30  # at most 30 frames a second: the rest of the CPU draws them
SLOW_SECONDS = 0.4  # slow motion: one step per frame, each shown this long
SPEEDS = (1, 2, 5, 10, 20, 50)  # steps per frame the page offers
DATA_SAMPLES = 10_000  # real samples written beside a saved run of a problem gankit lacks
COMMANDS = ("play", "pause", "step_d", "step_g", "step", "reset")
TRAINING_STATS = ("loss_d", "loss_g", "d_real", "d_fake")


class Session:
    """The lab's training, its controls and its published frames; thread-safe."""

    def __init__(self, problem: str = "ring8", values: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.problem, self.points = problem, None
        self.playing, self.speed, self.slow = False, 1, False
        self.notice = ""
        self.settings_version = 0  # counts changes of the settings, so pages can reload them
        self.curves: ThinnedHistory[dict[str, Any]] = ThinnedHistory(CURVE_POINTS)
        self.replay: ThinnedHistory[str] = ThinnedHistory(REPLAY_FRAMES)
        self._lock = threading.RLock()  # the trainer and everything above
        self._published = threading.Lock()  # the latest texts, read by the server's streams
        self._frame_text = "{}"
        self.scene_version = self.frame_version = 0
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        with self._lock:
            self._reset()

    # -- what the server calls -------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread that steps while playing."""
        self._thread = threading.Thread(target=self._run, name="gankit-lab", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def latest(self) -> tuple[int, int, str]:
        """(scene version, frame version, frame JSON), as last published."""
        with self._published:
            return self.scene_version, self.frame_version, self._frame_text

    def scene_json(self) -> str:
        """The scene, with the thinned history of every frame's numbers as ``curves``."""
        with self._lock:
            return json.dumps({**self._scene, "curves": self.curves.items}, separators=(",", ":"))

    def command(self, name: str) -> None:
        """play, pause, step_d (one D step), step_g (one G step), step (k D steps and one G
        step, as training does) or reset."""
        if name not in COMMANDS:
            raise GankitError(f"unknown command {name!r}; use one of {', '.join(COMMANDS)}")
        with self._lock:
            if self.diverged and name not in ("pause", "reset"):
                raise GankitError(
                    "the training went to NaN or Inf; lower the learning rates and press reset"
                )
            self.notice = ""
            if name in ("play", "pause"):
                self.playing = name == "play"
                self._publish(record=False)
            elif name == "reset":
                self._reset()
            else:
                self._train({"step_d": self._d_step, "step_g": self._g_step}.get(name, self._step))
        self._wake.set()

    def set_speed(self, steps: Any, slow: Any) -> None:
        """Steps per frame (one of SPEEDS) and slow motion (one step per SLOW_SECONDS)."""
        if isinstance(steps, bool) or steps not in SPEEDS or not isinstance(slow, bool):
            raise GankitError(
                f"speed takes steps per frame in {', '.join(map(str, SPEEDS))} and slow true or "
                f"false; got {steps!r}, {slow!r}"
            )
        with self._lock:
            self.speed, self.slow = steps, slow
            self.settings_version += 1
            self._publish(record=False)
        self._wake.set()

    def set_control(self, key: str, text: str) -> dict[str, Any]:
        """Validate and apply one control; ``{"reset": bool, "message": str}``."""
        with self._lock:
            values, config = change(self.values, key, str(text))
            self.values = values
            self.settings_version += 1
            if key not in LIVE:
                self._reset()
                message = f"{key} = {text}: new networks, the training starts over"
                self.notice = message
                self._publish(record=False)
                return {"reset": True, "message": message}
            self._apply_live(config)
            message = f"{key} = {text}: applies from the next step"
            self.notice = message
            self._publish(record=False)
            return {"reset": False, "message": message}

    def set_problem(self, name: str, points: Sequence[Sequence[float]] | None = None) -> None:
        """Train on problem ``name`` (``drawn``: on the given points) from the start."""
        if name not in PROBLEMS:
            raise GankitError(f"unknown problem {name!r}; choose one of {', '.join(PROBLEMS)}")
        if name == "drawn":
            build_problem(name, self.config, points)  # a bad drawing is refused before reset
        with self._lock:
            self.problem = name
            self.points = [list(p) for p in points] if points is not None else self.points
            self.settings_version += 1
            self._reset()
        self._wake.set()

    def state(self) -> dict[str, Any]:
        """The settings, for the page's controls."""
        with self._lock:
            config = self.config
            return {
                "problem": self.problem,
                "problems": list(PROBLEMS),
                "playing": self.playing,
                "speed": self.speed,
                "speeds": list(SPEEDS),
                "slow": self.slow,
                "loss": config.loss,
                "losses": list(OBJECTIVES),
                "d_steps": config.d_steps,
                "batch_size": config.batch_size,
                "r1": config.r1,
                "ema": config.ema,
                "pack": config.pack,
                "seed": config.seed,
                "noise": {"dim": config.noise.dim, "prior": config.noise.prior},
                **{
                    network: {
                        "lr": getattr(config, network).lr,
                        "optimizer": getattr(config, network).optimizer,
                        "hidden": getattr(config, network).hidden,
                    }
                    for network in ("generator", "discriminator")
                },
            }

    # -- the training ----------------------------------------------------------------------

    def _reset(self) -> None:
        config = lab_config({**self.values, "data": self.problem})
        density = build_problem(self.problem, config, self.points)
        if self.problem in MODE_PROBLEMS:
            data = load_data(config)
        else:  # the lab's own shapes: a VectorData over the exact density, as for gankit's
            standardizer = Standardizer(density.mean().float(), density.std().float())
            data = VectorData(self.problem, standardizer, density=density)
        self.config, self.data, self.density = config, data, density
        self.trainer = build_trainer(config, data)
        self.view = View(
            self.trainer, self.problem, density, view_bounds(density), self.problem in MODE_PROBLEMS
        )
        self.d_updates = self.g_updates = 0
        self.diverged = False
        self.last = dict.fromkeys(TRAINING_STATS)
        self.curves.clear()
        self.replay.clear()
        scene = self.view.scene()
        scene["js_floor"] = js_floor(density, FAKES, self.view.min_width)
        self._scene = scene
        self._publish(record=False, new_scene=True)

    def _apply_live(self, config: Config) -> None:
        trainer = self.trainer
        config = dataclasses.replace(config, data=self.config.data)
        new_prior = config.noise.prior != self.config.noise.prior
        trainer.config = self.config = config
        trainer.objective = OBJECTIVES[config.loss]
        trainer.set_learning_rates(config.generator.lr, config.discriminator.lr)
        if config.ema == 0:
            trainer.ema = None
        elif trainer.ema is None or trainer.ema.decay != config.ema:
            trainer.ema = EMA(trainer.generator, config.ema)  # the average starts from G as it is
        if new_prior:
            self.view.draw_noise()

    def _d_step(self) -> None:
        config = self.config
        regularize = config.r1 > 0 and self.d_updates % config.r1_every == 0
        loss, real_logits, fake_logits = self.trainer.discriminator_step(regularize)
        self.d_updates += 1
        self.last.update(
            loss_d=loss, d_real=real_logits.sigmoid().mean(), d_fake=fake_logits.sigmoid().mean()
        )

    def _g_step(self) -> None:
        self.last["loss_g"] = self.trainer.generator_step()
        self.g_updates += 1

    def _step(self) -> None:
        stats = self.trainer.train_step()
        self.d_updates += self.config.d_steps
        self.g_updates += 1
        self.last.update(zip(TRAINING_STATS, stats, strict=True))

    def _train(self, step: Callable[[], None], times: int = 1) -> None:
        """``times`` steps, then a frame; a step gone to NaN or Inf pauses with a notice."""
        try:
            for _ in range(times):
                step()
                losses = [self.last[k] for k in ("loss_d", "loss_g")]
                zero = torch.zeros(())
                self.trainer.check_finite(torch.stack([zero if v is None else v for v in losses]))
        except DivergenceError as error:
            self.playing, self.diverged = False, True
            self.notice = f"{error}; lower the learning rates and press reset"
        self._publish(record=True)

    def _run(self) -> None:
        while not self._closed.is_set():
            started = time.perf_counter()
            with self._lock:
                playing = self.playing
                if playing:
                    self._train(self._step, 1 if self.slow else self.speed)
            pause = (SLOW_SECONDS if self.slow else FRAME_SECONDS) if playing else 0.5
            self._wake.wait(max(0.0, pause - (time.perf_counter() - started)))
            self._wake.clear()

    def _publish(self, record: bool, new_scene: bool = False) -> None:
        if not self.diverged:  # else G and D hold NaN: the pictures stay those of the last step
            self._pictures = self.view.frame()
        frame = dict(self._pictures)
        losses = {k: None if v is None else float(v) for k, v in self.last.items()}
        numbers = {**losses, **frame.pop("stats")}
        stats = {
            "step": self.g_updates,
            "d_updates": self.d_updates,
            # JSON has no NaN or Inf: a number gone so is shown as missing
            **{
                k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in numbers.items()
            },
        }
        frame.update(
            stats=stats,
            playing=self.playing,
            speed=self.speed,
            slow=self.slow,
            loss=self.config.loss,
            notice=self.notice,
            settings=self.settings_version,
        )
        text = json.dumps(frame, separators=(",", ":"))
        if record:
            self.curves.append(stats)
            self.replay.append(text)
        with self._published:
            if new_scene:
                self.scene_version += 1
            self._frame_text = text
            self.frame_version += 1

    # -- what stays ------------------------------------------------------------------------

    def replay_frames(self) -> tuple[dict[str, Any], list[str]]:
        """The scene and the JSON of the kept frames, for the HTML replay."""
        with self._lock:
            return dict(self._scene), list(self.replay.items)

    def save(self, out: str | Path) -> Path:
        """Write what was trained as a run folder (``gankit sample`` and ``gankit report`` read
        it): config, weights, the kept history as metrics.jsonl, summary, losses and samples."""
        with self._lock:
            records = [r for r in self.curves.items if None not in (r[k] for k in TRAINING_STATS)]
            if not records:
                raise GankitError("nothing trained yet: take a full step or press play first")
            directory = run_folder.prepare(out)
            with run_folder.locked(directory, "saving the lab's training"):
                sources = {**self.config.sources, "steps": "the lab's training"}
                config = dataclasses.replace(
                    self.config, steps=max(1, self.g_updates), sources=sources
                )
                if self.problem not in MODE_PROBLEMS:
                    # gankit's data loader does not know the lab's shapes: the run's data is a
                    # file of samples of the exact density, which `gankit evaluate` reads.
                    points = self.density.sample(DATA_SAMPLES, torch.Generator().manual_seed(0))
                    path = directory / "data.npy"
                    sample_files.write_vectors(path, points.numpy())
                    sources["data"] = f"samples of the lab's {self.problem}"
                    config = dataclasses.replace(config, data=str(path.resolve()))
                generator = copy.deepcopy(self.trainer.sampling_generator).cpu()
                discriminator = copy.deepcopy(self.trainer.discriminator).cpu()
                run = Run(
                    config,
                    self.data.standardizer,
                    generator,
                    discriminator,
                    directory,
                    data=self.data,
                )
                run.save(directory)
                log = run_folder.MetricsLog(directory / run_folder.METRICS)
                try:
                    for record in records:
                        log(record)
                finally:
                    log.close()
                evaluator = Evaluator(config, self.data, 0, seed=config.seed)
                metrics = evaluator(generator)
                run.write_summary({**records[-1], **metrics, "trained_in": "gankit lab"})
                plot_losses(records, directory / run_folder.LOSSES)
                plot_samples(
                    evaluator.last_samples.numpy(),
                    self.data,
                    directory / run_folder.SAMPLES,
                    title=f"{self.problem}: G after {self.g_updates} steps in the lab",
                )
        return directory


def check_out(out: Any) -> str:
    """The run folder the page asked for, as a path string."""
    if not isinstance(out, str) or not out.strip():
        raise ConfigError("give the run folder to save into, e.g. runs/lab-ring8")
    return out.strip()
