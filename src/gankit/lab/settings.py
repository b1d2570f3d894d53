"""The lab's settings: gankit's own config, changed one control at a time.

Every value the page sends goes through :func:`gankit.config.load_config`, the validation of
``gankit train``'s ``KEY=VALUE``; the lab adds only upper limits that keep a frame quick. A
control either applies at the next step (``LIVE``) or needs new networks and restarts the
training (``RESET``).
"""

from __future__ import annotations

from typing import Any

from gankit.config import Config, load_config
from gankit.errors import ConfigError

LAB_DEFAULTS: dict[str, Any] = {
    # The lab trains until paused: a constant learning rate rather than a decay to `steps`.
    "lr_decay": "constant",
    # The plain game of GAN Lab: the G that D plays against is the G shown, no R1, and no batch
    # norm in G, whose running statistics would move G's samples during D's steps.
    "ema": 0.0,
    "r1": 0.0,
    "generator.batch_norm": False,
    "progress": False,
    "tensorboard": False,
}

LIVE = (
    "loss",
    "d_steps",
    "generator.lr",
    "discriminator.lr",
    "batch_size",
    "r1",
    "ema",
    "noise.prior",
)
"""Controls that apply at the next step, on the same networks."""
RESET = (
    "generator.hidden",
    "discriminator.hidden",
    "generator.optimizer",
    "discriminator.optimizer",
    "noise.dim",
    "pack",
    "seed",
)
"""Controls that need new networks (or new optimizers): the training starts over."""

LIMITS: dict[str, int] = {
    "batch_size": 2048,
    "d_steps": 20,
    "noise.dim": 64,
    "pack": 8,
    "layers": 6,
    "width": 512,
}
"""Upper limits of the lab (gankit train takes more): each keeps one frame within a fraction of
a second on a laptop's CPU."""


def lab_config(values: dict[str, Any]) -> Config:
    """The validated config of the lab's current ``values`` (dotted keys) over LAB_DEFAULTS."""
    return load_config(base={**LAB_DEFAULTS, **values})


def change(values: dict[str, Any], key: str, text: str) -> tuple[dict[str, Any], Config]:
    """The values and config after setting control ``key`` to ``text`` as typed, e.g.
    ``("generator.lr", "1e-3")``; a ConfigError names what is wrong and how to fix it."""
    if key not in LIVE + RESET:
        raise ConfigError(f"unknown control {key!r}; the lab sets {', '.join(LIVE + RESET)}")
    config = load_config(base={**LAB_DEFAULTS, **values}, overrides=[f"{key}={text}"])
    check_limits(config)
    value: Any = config
    for name in key.split("."):
        value = getattr(value, name)
    return {**values, key: value}, config


def check_limits(config: Config) -> None:
    """Refuse what would make a frame take seconds: LIMITS."""
    numbers = {
        "batch_size": config.batch_size,
        "d_steps": config.d_steps,
        "noise.dim": config.noise.dim,
        "pack": config.pack,
    }
    for key, number in numbers.items():
        if number > LIMITS[key]:
            raise ConfigError(
                f"{key} {number} is more than the lab takes; use at most {LIMITS[key]}"
            )
    for network in ("generator", "discriminator"):
        hidden = getattr(config, network).hidden
        if len(hidden) > LIMITS["layers"] or max(hidden) > LIMITS["width"]:
            raise ConfigError(
                f"{network}.hidden {hidden} is larger than the lab takes; use at most "
                f"{LIMITS['layers']} layers of at most {LIMITS['width']} units"
            )
