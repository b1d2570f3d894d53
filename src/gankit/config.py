"""Typed configuration: defaults, config files, ``KEY=VALUE`` overrides and validation.

A config is a tree of dataclasses. Every setting has a type and, where it needs one, a
range; :func:`load_config` merges a YAML/JSON file and dotted overrides into the tree and
raises :class:`~gankit.errors.ConfigError` with one clear line on anything that does not
fit (an unknown key gets a "did you mean" suggestion).

Defaults come in two layers: :class:`Config`'s own, which suit vectors (the 2D mixtures), and
:data:`KIND_DEFAULTS` for the kind of data ``data`` names (images train a conditional DCGAN
for minutes, not an MLP for 24,000 steps). A setting the chosen model does not use is refused
(``model=dcgan generator.hidden=[64]``), and the resolved config records where each setting
came from (:attr:`Config.sources`), which ``config.yaml`` shows as a comment on each line.

This module imports no torch, so that a mistyped setting is answered at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from gankit.errors import ConfigError


def setting(
    default: Any,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A scalar dataclass field with an optional numeric range, checked by :func:`validate`."""
    bounds = {"gt": gt, "ge": ge, "le": le, "lt": lt}
    return field(default=default, metadata={k: v for k, v in bounds.items() if v is not None})


DataKind = Literal["vectors", "images", "labelled images", "tables"]

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")

BUILT_IN_DATA: dict[str, DataKind] = {
    "ring8": "vectors",
    "grid25": "vectors",
    "mixture1d": "vectors",
    "mixture": "vectors",
    "digits": "labelled images",
    "mnist": "labelled images",
    "penguins": "tables",
    "fair": "tables",
    "breast_cancer": "tables",
}
"""The names ``data`` takes for built-in sets (:mod:`gankit.data` loads each), and their kind."""

_IMAGE_DEFAULTS: dict[str, Any] = {
    # A DCGAN with differentiable augmentation, as configs/digits.yaml: minutes on a CPU.
    "model": "dcgan",
    "steps": 3000,
    "batch_size": 64,
    "r1": 0.1,
    "noise.dim": 32,
    "generator.width": 32,
    "discriminator.width": 32,
    "augment.policy": ["color", "translation", "cutout"],
    "eval_every": 500,
    "eval_samples": 2000,
    "stop.max_steps": 20000,
}
KIND_DEFAULTS: dict[DataKind, dict[str, Any]] = {
    "vectors": {},  # Config's own defaults are the mixtures' (PacGAN's protocol)
    "images": _IMAGE_DEFAULTS,
    "labelled images": {**_IMAGE_DEFAULTS, "conditional": True},
    "tables": {
        # CTGAN's networks and packing, conditioned on a (column, category) pair when the table
        # has categorical columns; this project's objective with a light R1. Early stopping on
        # the held-out quality score, keeping the best networks: a table's pair trends can
        # improve late and in a jump (fair, seed 0: 0.62 at step 3,000, 0.86 at 7,000).
        "model": "tabular",
        "conditional": True,
        "steps": "auto",
        "batch_size": 500,
        "pack": 10,
        "r1": 0.1,
        "noise.dim": 128,
        "generator.hidden": [256, 256],
        "discriminator.hidden": [256, 256],
        "generator.lr": 2e-4,
        "discriminator.lr": 2e-4,
        "generator.betas": [0.5, 0.9],
        "discriminator.betas": [0.5, 0.9],
        "eval_every": 1000,
        "stop.max_steps": 7000,  # fair, the largest built-in table, in under 3 minutes here
    },
}
"""Defaults for each kind of data, over :class:`Config`'s and under everything a user sets."""

_UNUSED_BY_IMAGE_NETS = (
    "generator.hidden",
    "generator.activation",
    "generator.batch_norm",
    "generator.spectral_norm",
    "discriminator.hidden",
    "discriminator.activation",
    "discriminator.batch_norm",
    "mixture",
    "table",
)
UNUSED_SETTINGS: dict[str, tuple[str, ...]] = {
    "mlp": (
        "generator.width",
        "discriminator.width",
        "generator.spectral_norm",
        "discriminator.spectral_norm",
        "image",
        "augment",
        "table",
    ),
    "tabular": (
        "generator.width",
        "discriminator.width",
        "generator.activation",
        "generator.batch_norm",
        "generator.spectral_norm",
        "discriminator.activation",
        "discriminator.batch_norm",
        "discriminator.spectral_norm",
        "image",
        "augment",
        "mixture",
    ),
    "dcgan": _UNUSED_BY_IMAGE_NETS,
    # The ResNet D is always spectral-normalised, every layer of it.
    "resnet": (*_UNUSED_BY_IMAGE_NETS, "discriminator.spectral_norm"),
}
"""The settings (or whole sections) each model ignores: changing one is refused."""


def data_kind(data: str) -> DataKind:
    """The kind of data ``data`` names: a built-in set, or a path (a folder or an .npz holding
    ``images`` is images, labelled when it has class subfolders or ``labels``; a .csv, .tsv or
    .parquet file is a table)."""
    if data in BUILT_IN_DATA:
        return BUILT_IN_DATA[data]
    path = Path(data)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return "tables"
    if path.is_dir():
        classes = any(p.is_dir() and not p.name.startswith(".") for p in path.iterdir())
        return "labelled images" if classes else "images"
    if path.suffix.lower() == ".npz" and path.is_file():
        import zipfile

        import numpy as np

        try:
            with np.load(path, allow_pickle=False) as archive:
                if "images" in archive.files:
                    return "labelled images" if "labels" in archive.files else "images"
        except (ValueError, OSError, zipfile.BadZipFile, EOFError):
            pass  # not readable: the data loader says why
    return "vectors"


def model_for(model: str, kind: DataKind) -> str:
    """The model ``model=auto`` means for data of ``kind``: an MLP for vectors, the tabular
    networks for tables, DCGAN for images."""
    if model != "auto":
        return model
    return {"vectors": "mlp", "tables": "tabular"}.get(kind, "dcgan")


@dataclass
class NoiseConfig:
    """The prior p_z of the generator's input."""

    dim: int = setting(8, ge=1)
    prior: Literal["normal", "uniform"] = "normal"


@dataclass
class NetworkConfig:
    """One network (G or D) and the optimizer that trains it."""

    hidden: list[int] = field(default_factory=lambda: [128, 128, 128])
    activation: Literal["relu", "leaky_relu", "elu", "tanh"] = "leaky_relu"
    batch_norm: bool = False
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = setting(5e-4, gt=0)
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    momentum: float = setting(0.0, ge=0, lt=1)
    width: int = setting(64, ge=1)
    spectral_norm: bool = False


@dataclass
class MixtureConfig:
    """The Gaussian mixture of ``data=mixture`` (and of ``data=mixture1d``, its 1D case): K
    isotropic modes in ``dim`` dimensions, ``means`` their centres one after another (K * dim
    numbers), ``stds`` and ``weights`` one number each."""

    means: list[float] = field(default_factory=lambda: [-2.0, 2.0])
    stds: list[float] = field(default_factory=lambda: [0.3, 0.3])
    weights: list[float] = field(default_factory=lambda: [0.5, 0.5])
    dim: int = setting(1, ge=1)


@dataclass
class ImageConfig:
    """Image data: the size the networks see, and the fixed split into training and held-out.

    ``holdout`` of each class is set aside once, by a fixed seed, for evaluation; the run
    trains on ``train_fraction`` of the rest, or on ``per_class`` images of each class,
    chosen by ``subset_seed``.
    """

    resolution: int = setting(0, ge=0)
    channels: int = setting(0, ge=0, le=3)
    holdout: float = setting(0.2, gt=0, lt=1)
    train_fraction: float = setting(1.0, gt=0, le=1)
    per_class: int = setting(0, ge=0)
    subset_seed: int = setting(0, ge=0)


@dataclass
class TableConfig:
    """Tables: how columns are read and modelled (CTGAN's mode-specific normalisation).

    Column kinds are inferred (strings, booleans and integer columns with at most
    ``max_categories`` distinct values: categorical; floats: continuous; other integers:
    continuous with integer values) unless named here. ``target`` is the column a downstream
    model predicts: the held-out split is stratified by it.
    """

    categorical: list[str] = field(default_factory=list)
    continuous: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    target: str = ""
    holdout: float = setting(0.2, gt=0, lt=1)
    max_categories: int = setting(50, ge=2)
    modes: int = setting(10, ge=1)
    fit_rows: int = setting(5000, ge=10)


@dataclass
class RareConfig:
    """One class of labelled data made rare in the training split, as rare events are.

    With a ``label`` (a category of ``table.target``, or an image class), the run trains on
    every training row of the other classes and on as many of that class as make it
    ``prevalence`` of the rows, chosen by ``seed`` (nested: a lower prevalence keeps a subset
    of what a higher one keeps). ``validation`` of those rows, of each class, is then set aside
    and never trained on: what a classifier chooses its threshold on. The held-out rows keep
    their natural prevalence.
    """

    label: str = ""
    prevalence: float = setting(0.01, gt=0, lt=0.5)
    seed: int = setting(0, ge=0)
    validation: float = setting(0.0, ge=0, lt=1)


@dataclass
class AugmentConfig:
    """Differentiable augmentation of every image D sees, and the ADA rule that tunes its p."""

    policy: list[Literal["color", "translation", "cutout"]] = field(default_factory=list)
    p: float = setting(1.0, ge=0, le=1)
    adaptive: bool = False
    target: float = setting(0.6, gt=-1, lt=1)
    interval: int = setting(4, ge=1)
    ada_kimg: float = setting(20.0, gt=0)


SWEEPABLE = (
    "generator.lr",
    "discriminator.lr",
    "generator.betas",
    "discriminator.betas",
    "generator.momentum",
    "discriminator.momentum",
    "ema",
    "r1",
    "lr_decay",
    "divergence_lr_factor",
    "image.subset_seed",
)
"""The settings a population's members may differ in: none changes a network's shape or the
order of the steps, so the members still run in one stacked step. ``image.subset_seed`` gives
each member its own subset of the training images (``image.train_fraction`` or ``per_class``),
as a study's cells need."""


@dataclass
class PopulationConfig:
    """Many GANs trained at once, stacked so that one step steps them all
    (:mod:`gankit.training.population`).

    ``seeds`` members, seeded ``seed``, ``seed + 1``, ...; ``sweep`` gives each member its own
    value of a setting in :data:`SWEEPABLE`, one list entry per member, e.g.
    ``population.sweep.generator.lr=[1e-4,5e-4,1e-3]`` (``seeds`` defaults to the lists' length).

    ``draws``: ``own`` gives each member its single run's draws of data and noise, from its own
    streams, one member after another; ``shared`` draws every member's at once from the
    population's stream (independent members, though not their single runs' batches: on a GPU,
    one launch instead of one a member); ``auto`` is ``shared`` on CUDA and ``own`` on the CPU.
    """

    seeds: int = setting(1, ge=1)
    sweep: dict[str, list[Any]] = field(default_factory=dict)
    draws: Literal["auto", "own", "shared"] = "auto"


@dataclass
class StopConfig:
    """Early stopping (:mod:`gankit.training.early_stop`): with a ``metric``, training stops
    once the metric of the evaluation every ``eval_every`` steps has not improved by more than
    ``min_delta`` for ``patience`` evaluations, and the run keeps its networks of the best one.

    ``metric`` is ``none``, ``auto`` (the class accuracy of a conditional image G's samples, the
    quality score for tables, the Frechet distance otherwise) or a metric's name. ``steps=auto``
    is short for ``stop.metric=auto`` with ``steps`` at ``max_steps``, the cap.
    """

    metric: str = "none"
    patience: int = setting(4, ge=1)
    min_delta: float = setting(0.0, ge=0)
    max_steps: int = setting(100_000, ge=1)


@dataclass
class Config:
    """Everything a training run needs. ``data``, ``steps`` and ``seed`` always exist.

    ``steps`` is an integer once loaded: ``auto`` is resolved by :func:`load_config`.
    """

    data: str = "ring8"
    steps: int | Literal["auto"] = setting(24000, ge=1)
    seed: int = setting(0, ge=0)
    batch_size: int = setting(128, ge=1)
    d_steps: int = setting(1, ge=1)
    pack: int = setting(1, ge=1)
    loss: Literal["nonsaturating", "minimax", "hinge", "wgan-gp", "lsgan"] = "nonsaturating"
    model: Literal["auto", "mlp", "dcgan", "resnet", "tabular"] = "auto"
    conditional: bool = False
    ema: float = setting(0.999, ge=0, lt=1)
    r1: float = setting(1.0, ge=0)
    r1_every: int = setting(4, ge=1)
    lr_decay: Literal["constant", "linear"] = "linear"
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    generator: NetworkConfig = field(
        default_factory=lambda: NetworkConfig(activation="relu", batch_norm=True)
    )
    discriminator: NetworkConfig = field(default_factory=NetworkConfig)
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    table: TableConfig = field(default_factory=TableConfig)
    rare: RareConfig = field(default_factory=RareConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    stop: StopConfig = field(default_factory=StopConfig)
    eval_every: int = setting(4000, ge=1)
    eval_samples: int = setting(2500, ge=1)
    log_every: int = setting(50, ge=1)
    progress: bool = True
    threads: int = setting(1, ge=0)
    checkpoint_every: int = setting(2000, ge=1)
    keep_checkpoints: int = setting(3, ge=1)
    on_divergence: Literal["stop", "restore"] = "stop"
    divergence_lr_factor: float = setting(0.5, gt=0, lt=1)
    tensorboard: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False
    sync_batch_norm: bool = False
    sources: dict[str, str] = field(
        default_factory=dict, compare=False, repr=False, metadata={"internal": True}
    )
    """Where each setting came from (dotted key -> "a config file", "the command line", ...);
    a key not listed has :class:`Config`'s default. Not a setting itself."""

    @property
    def data_is_path(self) -> bool:
        """Whether ``data`` is a path to the user's own data rather than a built-in name."""
        return self.data not in BUILT_IN_DATA

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain nested dicts."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "sources"}

    def to_yaml(self) -> str:
        """The settings as YAML, each line commented with where it came from, without those the
        model does not use; read back by :func:`load_config`."""
        unused = set(UNUSED_SETTINGS[model_for(self.model, data_kind(self.data))])
        lines: list[str] = []
        _emit_yaml(self, self.sources, unused, "", 0, lines)
        return "\n".join(lines) + "\n"


def _emit_yaml(
    section: Any,
    sources: dict[str, str],
    unused: set[str],
    prefix: str,
    depth: int,
    lines: list[str],
) -> None:
    for item in _settings(type(section)):
        value, dotted, indent = getattr(section, item.name), prefix + item.name, "  " * depth
        if dotted in unused:
            continue
        if dataclasses.is_dataclass(value):
            lines.append(f"{indent}{item.name}:")
            _emit_yaml(value, sources, unused, f"{dotted}.", depth + 1, lines)
            continue
        text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000)
        text = text.strip().removesuffix("...").strip()
        lines.append(f"{indent}{item.name}: {text}  # {sources.get(dotted, 'default')}")


def _settings(kind: type) -> list[dataclasses.Field]:
    """The fields of a config section that are settings (not :attr:`Config.sources`)."""
    return [f for f in dataclasses.fields(kind) if not f.metadata.get("internal")]


def load_config(
    path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    base: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
) -> Config:
    """Build a validated :class:`Config` from defaults, a file, a dict and ``KEY=VALUE`` strings.

    Later sources win: :class:`Config`'s defaults < :data:`KIND_DEFAULTS` of the data's kind <
    ``defaults`` (a command's own, such as ``gankit augment``'s) < ``path`` < ``base`` <
    ``overrides``.
    """
    pairs = []
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY=VALUE, got {override!r} (e.g. steps=2000)")
        pairs.append((key.strip(), value.strip()))
    given: list[tuple[str, dict[str, Any] | None]] = [
        ("the command's defaults", defaults),
        (f"config file {path}", read_config_file(path) if path is not None else None),
        ("given", base),
    ]

    def build(kind: DataKind | None) -> Config:
        config = Config()
        if kind is not None:
            config.sources.update(apply_dict(config, KIND_DEFAULTS[kind], f"default for {kind}"))
        for label, values in given:
            if values is not None:
                config.sources.update(apply_dict(config, values, label))
        for key, value in pairs:
            config.sources[set_key(config, key, value, from_text=True)] = "command line"
        return config

    config = build(None)  # the data named, by whichever source names it
    kind = data_kind(config.data)
    config = build(kind)
    _resolve_auto_steps(config)
    _resolve_population_size(config)
    validate(config)
    _check_model_settings(config, kind)
    return config


def _resolve_auto_steps(config: Config) -> None:
    """``steps=auto``: early stopping on ``stop.metric`` (``auto`` unless named), at most
    ``stop.max_steps`` steps."""
    if config.steps != "auto":
        return
    config.steps = config.stop.max_steps
    config.sources["steps"] = f"auto: stop.max_steps ({config.sources['steps']})"
    if config.stop.metric == "none":
        config.stop.metric = "auto"
        config.sources["stop.metric"] = "steps=auto"


def _resolve_population_size(config: Config) -> None:
    """A sweep without ``population.seeds`` has one member per value; with it, the two agree."""
    population = config.population
    lengths = {key: len(values) for key, values in population.sweep.items()}
    if not lengths:
        return
    key, length = next(iter(lengths.items()))
    for other, other_length in lengths.items():
        if other_length != length:
            raise ConfigError(
                f"population.sweep.{key} lists {length} values and population.sweep.{other} "
                f"{other_length}; give every swept setting one value per member"
            )
    swept = next(source for dotted, source in config.sources.items() if ".sweep." in dotted)
    config.sources["population.sweep"] = swept  # config.yaml's comment on the whole mapping
    if "population.seeds" not in config.sources:
        population.seeds = length
        config.sources["population.seeds"] = "the length of population.sweep"
    elif population.seeds != length:
        raise ConfigError(
            f"population.sweep.{key} lists {length} values but population.seeds is "
            f"{population.seeds}; give one value per member, or drop population.seeds"
        )


def _check_model_settings(config: Config, kind: DataKind) -> None:
    """Refuse a setting, changed by the user, that the model trained on this data does not use
    (the defaults of the data's kind are not the user's: a model they do not suit ignores them)."""
    model, defaults = model_for(config.model, kind), Config()
    for dotted, source in config.sources.items():
        if source.startswith("default for"):
            continue
        unused = next((u for u in UNUSED_SETTINGS[model] if f"{dotted}.".startswith(f"{u}.")), None)
        if unused is not None and _value(config, dotted) != _value(defaults, dotted):
            raise ConfigError(
                f"config key {dotted!r} is not used by model={model} (the model for {kind}); "
                "drop it, or choose a model that uses it"
            )


def _value(config: Config, dotted: str) -> Any:
    value: Any = config
    for name in dotted.split("."):
        value = getattr(value, name)
    return value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found; check the path")
    try:
        content = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0]
        raise ConfigError(f"config file {str(path)!r} is not valid YAML/JSON: {reason}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of keys to values")
    return content


def apply_dict(
    config: Any, values: dict[str, Any], label: str = "given", prefix: str = ""
) -> dict[str, str]:
    """Set every key of a (nested) dict on the config tree, checking names and types.

    Returns ``{dotted key: label}`` for each key set, the keys' sources.
    """
    sources = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            sources.update(apply_dict(config, value, label, prefix=f"{dotted}."))
        else:
            sources[set_key(config, dotted, value, from_text=False)] = label
    return sources


def set_key(config: Any, dotted: str, value: Any, *, from_text: bool) -> str:
    """Set one dotted key, e.g. ``generator.lr``, converting and checking its type; returns the
    key."""
    *parents, name = dotted.split(".")
    target: Any = config
    for depth, parent in enumerate(parents):
        path = ".".join(parents[: depth + 1])
        hints = _hints(type(target))
        if parent not in hints:
            raise ConfigError(_unknown_key_message(path, list(hints)))
        if typing.get_origin(hints[parent]) is dict:  # population.sweep: dotted keys to lists
            swept = ".".join([*parents[depth + 1 :], name])
            getattr(target, parent)[swept] = _sweep_values(value, dotted, from_text)
            return dotted
        if not dataclasses.is_dataclass(hints[parent]):
            raise ConfigError(f"config key {path!r} takes a single value, not a mapping")
        target = getattr(target, parent)
    hints = _hints(type(target))
    if name not in hints:
        raise ConfigError(_unknown_key_message(dotted, list(hints)))
    if typing.get_origin(hints[name]) is dict:
        raise ConfigError(
            f"config key {dotted!r} is a mapping; set one key of it, e.g. "
            f"{dotted}.generator.lr=[1e-4,5e-4]"
        )
    if dataclasses.is_dataclass(hints[name]):
        first = next(iter(typing.get_type_hints(hints[name])))
        raise ConfigError(
            f"config key {dotted!r} is a section; set one of its keys, e.g. {dotted}.{first}=..."
        )
    setattr(target, name, _convert(value, hints[name], dotted, from_text))
    return dotted


def _sweep_values(value: Any, dotted: str, from_text: bool) -> list[Any]:
    """A sweep's list of values, each checked later as the swept setting's own type."""
    if from_text and isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            value = None
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(
            f"config key {dotted!r} expects a list of values, one per member, in brackets: "
            f"{dotted}=[V1,V2,...]; got {value!r}"
        )
    return list(value)


def _hints(kind: type) -> dict[str, Any]:
    """The type of each setting of a config section."""
    hints = typing.get_type_hints(kind)
    return {f.name: hints[f.name] for f in _settings(kind)}


def _unknown_key_message(dotted: str, known: list[str]) -> str:
    name = dotted.rsplit(".", 1)[-1]
    parent = dotted[: -len(name)]
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        hint = f"did you mean '{parent}{close[0]}'?"
    else:
        hint = "known keys: " + ", ".join(parent + key for key in known)
    return f"unknown config key {dotted!r}; {hint}"


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _convert(value: Any, kind: Any, dotted: str, from_text: bool) -> Any:
    """Convert ``value`` to the annotated type ``kind`` or raise a ConfigError naming the key."""
    origin = typing.get_origin(kind)

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"config key {dotted!r} expects {expected}, got {value!r}")

    if origin is Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise ConfigError(
                f"config key {dotted!r} must be one of "
                f"{', '.join(map(str, choices))}; got {value!r}"
            )
        return value
    if origin in (list, typing.List):  # noqa: UP006
        (item_kind,) = typing.get_args(kind)
        if from_text and isinstance(value, str):
            text = value.strip().removeprefix("[").removesuffix("]")
            value = [item.strip() for item in text.split(",") if item.strip()]
        if not isinstance(value, list | tuple):
            raise fail(f"a list of {item_kind.__name__}s")
        return [_convert(item, item_kind, dotted, from_text) for item in value]
    if origin in (typing.Union, types.UnionType):  # steps: an integer or "auto"
        options = typing.get_args(kind)
        for option in options:
            with contextlib.suppress(ConfigError):
                return _convert(value, option, dotted, from_text)
        expected = [_describe(option) for option in options]
        raise fail(" or ".join(expected))
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_text and str(value).lower() in _TRUE | _FALSE:
            return str(value).lower() in _TRUE
        raise fail("true or false")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_text:
            try:
                return int(str(value))
            except ValueError:
                pass
        raise fail("an integer")
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value)) if isinstance(value, str) else None
            except ValueError:
                number = None
            if number is None:
                raise fail("a number")
        if not math.isfinite(number):
            raise fail("a finite number")
        return number
    if kind is str:
        if isinstance(value, str):
            return value  # may be empty: "" is "none" for table.target; data is checked apart
        if from_text and value is not None:
            return str(value)
        raise fail("a string")
    raise TypeError(f"unsupported config type {kind}")


def _describe(kind: Any) -> str:
    """A type as a config error names it: ``an integer``, ``auto``."""
    if typing.get_origin(kind) is Literal:
        return " or ".join(map(str, typing.get_args(kind)))
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[kind]


def validate(config: Any, prefix: str = "") -> None:
    """Check every numeric range in the tree, and the cross-field rules of each section."""
    for item in _settings(type(config)):
        value = getattr(config, item.name)
        dotted = f"{prefix}{item.name}"
        if dataclasses.is_dataclass(value):
            validate(value, prefix=f"{dotted}.")
            continue
        for number in value if isinstance(value, list) else [value]:
            if not isinstance(number, str):  # steps=auto has no range
                _check_range(number, item.metadata, dotted)
    if isinstance(config, NetworkConfig):
        _check_network(config, prefix)
    if isinstance(config, MixtureConfig):
        _check_mixture(config, prefix)
    if isinstance(config, ImageConfig):
        _check_image(config, prefix)
    if isinstance(config, PopulationConfig):
        _check_population(config, prefix)
    if isinstance(config, Config) and not config.data:
        raise ConfigError("config key 'data' needs a built-in name or a path, e.g. data=ring8")
    if isinstance(config, Config) and not config.rare.label and config.rare != RareConfig():
        raise ConfigError(
            "the rare.* settings make a class rare: name it with rare.label (a category of "
            "table.target, or an image class), or drop them"
        )
    if isinstance(config, Config) and config.batch_size % config.pack:
        raise ConfigError(
            f"batch_size ({config.batch_size}) must be a multiple of pack "
            f"({config.pack}): D judges pack samples at a time"
        )


def _check_range(number: Any, bounds: typing.Mapping[str, float], dotted: str) -> None:
    rules = {
        "gt": (lambda a, b: a > b, ">"),
        "ge": (lambda a, b: a >= b, ">="),
        "lt": (lambda a, b: a < b, "<"),
        "le": (lambda a, b: a <= b, "<="),
    }
    for key, bound in bounds.items():
        holds, symbol = rules[key]
        if not holds(number, bound):
            raise ConfigError(f"config key {dotted!r} must be {symbol} {bound}; got {number}")


def _check_network(network: NetworkConfig, prefix: str) -> None:
    if not network.hidden or any(width < 1 for width in network.hidden):
        raise ConfigError(
            f"config key '{prefix}hidden' must list one or more positive layer "
            f"widths, e.g. [256,256]; got {network.hidden}"
        )
    if len(network.betas) != 2 or not all(0 <= beta < 1 for beta in network.betas):
        raise ConfigError(
            f"config key '{prefix}betas' must be two numbers in [0, 1), "
            f"e.g. [0.5,0.999]; got {network.betas}"
        )


def _check_mixture(mixture: MixtureConfig, prefix: str) -> None:
    modes = len(mixture.stds)
    if modes == 0 or len(mixture.weights) != modes:
        raise ConfigError(
            f"'{prefix}means', '{prefix}stds' and '{prefix}weights' must be "
            "non-empty lists of the same length"
        )
    if len(mixture.means) != modes * mixture.dim:
        raise ConfigError(
            f"'{prefix}means' must hold {modes} x {prefix}dim = {modes * mixture.dim} numbers "
            f"(each mode's centre in turn), one mode per '{prefix}stds' entry; got "
            f"{len(mixture.means)}"
        )
    if any(std <= 0 for std in mixture.stds):
        raise ConfigError(f"config key '{prefix}stds' must be positive; got {mixture.stds}")
    if any(weight < 0 for weight in mixture.weights) or sum(mixture.weights) <= 0:
        raise ConfigError(
            f"config key '{prefix}weights' must be non-negative with a positive "
            f"sum; got {mixture.weights}"
        )


SHAPE_SETTINGS = (
    "data",
    "model",
    "conditional",
    "batch_size",
    "pack",
    "noise",
    "generator.hidden",
    "generator.width",
    "generator.activation",
    "generator.batch_norm",
    "generator.spectral_norm",
    "discriminator.hidden",
    "discriminator.width",
    "discriminator.activation",
    "discriminator.batch_norm",
    "discriminator.spectral_norm",
    "image",
    "table",
)
"""Settings that change what the networks look like, or what data they see."""


def _check_population(population: PopulationConfig, prefix: str) -> None:
    for key, values in population.sweep.items():
        shaping = next((s for s in SHAPE_SETTINGS if f"{key}.".startswith(f"{s}.")), None)
        if shaping is not None and key not in SWEEPABLE:
            raise ConfigError(
                f"config key '{prefix}sweep.{key}' changes the networks' shapes, which all "
                "members of a population share; train those settings as separate runs"
            )
        if key not in SWEEPABLE:
            with _naming_sweep(prefix, key):
                set_key(Config(), key, values[0], from_text=True)  # unknown: did you mean
            raise ConfigError(
                f"config key '{prefix}sweep.{key}' cannot differ between members; "
                f"a population sweeps {', '.join(SWEEPABLE)}"
            )
        converted = []
        for value in values:  # each value as the setting's own type, in its range
            member = Config()
            with _naming_sweep(prefix, key):
                set_key(member, key, value, from_text=True)
                validate(member)
            converted.append(_value(member, key))
        population.sweep[key] = converted


@contextlib.contextmanager
def _naming_sweep(prefix: str, key: str) -> typing.Iterator[None]:
    """Say which sweep a swept value's error comes from."""
    try:
        yield
    except ConfigError as error:
        raise ConfigError(f"in '{prefix}sweep.{key}': {error}") from None


def _check_image(image: ImageConfig, prefix: str) -> None:
    if image.channels not in (0, 1, 3):
        raise ConfigError(
            f"config key '{prefix}channels' must be 1 (grey), 3 (RGB) or 0 (as the data "
            f"has); got {image.channels}"
        )
    if image.per_class and image.train_fraction < 1:
        raise ConfigError(f"set one of '{prefix}per_class' and '{prefix}train_fraction', not both")
