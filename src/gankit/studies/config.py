"""The settings of a study: its own (:class:`StudyConfig`, the ``study.*`` keys) and the training
:class:`~gankit.config.Config` of the GANs it trains, loaded together by
:func:`load_study_config`.

A study folder keeps both in one file, ``study.yaml``: the training settings at its top level, as
a run's ``config.yaml`` holds them, and the study's own under ``study:``. A user's config file
for ``gankit augment`` has the same shape. Each key goes to its own tree, so a training run's
config never holds a study section.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from gankit.config import (
    Config,
    apply_dict,
    data_kind,
    load_config,
    read_config_file,
    set_key,
    setting,
    validate,
)
from gankit.errors import ConfigError

SECTION = "study"
"""The key of the study's own settings: ``study:`` in a file, ``study.*`` in KEY=VALUE."""

STUDY_DEFAULTS: dict[str, Any] = {
    "data": "digits",
    "progress": False,  # the study's own bar counts cells; one per GAN would garble it
    "tensorboard": False,
}
"""``gankit augment``'s training defaults, over :class:`~gankit.config.Config`'s and those of
labelled images (the demo's class-conditional DCGAN with DiffAugment); a file or KEY=VALUE wins."""


@dataclass
class StudyConfig:
    """``gankit augment``: does adding G's samples to scarce real data help a classifier?"""

    fractions: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.25, 1.0])
    seeds: int = setting(3, ge=1)
    ratio: float = setting(1.0, gt=0)
    classifiers: list[Literal["logistic", "cnn", "boosting"]] = field(
        default_factory=lambda: ["logistic", "cnn", "boosting"]
    )
    vae: bool = True
    jobs: int = setting(1, ge=1)
    population: bool = False  # each fraction's GANs, one per seed, trained as one population


RareRegime = Literal[
    "real",
    "real+class_weights",
    "real+random",
    "real+smote",
    "real+gan",
    "real+ctgan",
    "gan",
]


@dataclass
class RareStudyConfig:
    """``gankit augment`` on rare events: does oversampling a rare class with a conditional GAN
    help a classifier find it, against class weights, random oversampling, SMOTE and CTGAN?

    ``minority`` is the class made rare (default: the rarest class of the training split),
    cut to each of ``prevalence`` of the training rows for each of ``seeds`` seeds; every
    oversampler adds rows of it until it is ``balance`` times as many as the other rows.
    ``validation`` of the rare training set is set aside for choosing thresholds.
    """

    prevalence: list[float] = field(default_factory=lambda: [0.01, 0.02, 0.05])
    seeds: int = setting(5, ge=1)
    minority: str = ""
    balance: float = setting(1.0, gt=0, le=1)
    regimes: list[RareRegime] = field(default_factory=lambda: list(typing.get_args(RareRegime)))
    classifiers: list[Literal["logistic", "boosting", "mlp"]] = field(
        default_factory=lambda: ["logistic", "boosting", "mlp"]
    )
    validation: float = setting(0.2, gt=0, lt=1)
    ctgan_epochs: int = setting(300, ge=1)
    jobs: int = setting(2, ge=1)


RARE_KEYS = frozenset(
    name
    for name in RareStudyConfig.__dataclass_fields__
    if name not in StudyConfig.__dataclass_fields__
)
"""The study keys that only a rare-event study has: given for images, they choose it."""

RARE_DEFAULTS: dict[str, Any] = {
    # A rare-event cell trains on a few hundred rows: 1000 steps of 500 rows are 2000 epochs
    # of them, and one evaluation of 1000 samples at the end is enough to check the GAN.
    "steps": 1000,
    "eval_samples": 1000,
    "conditional": True,  # labelled vectors too: G draws the rare class given it
}
"""Training defaults of the rare-event study's GANs over :data:`STUDY_DEFAULTS`: a table, labelled
vectors, or labelled images with ``study.minority``."""


@dataclass(frozen=True)
class StudySettings:
    """Everything a study needs: its own settings, and the training config of its GANs."""

    study: StudyConfig | RareStudyConfig
    training: Config

    @property
    def rare(self) -> bool:
        """Whether this is a rare-event study (a table's, or images' with a rare class)."""
        return isinstance(self.study, RareStudyConfig)

    def to_yaml(self) -> str:
        """Both as one YAML file (``study.yaml``), read back by :func:`load_study_config`."""
        section = {SECTION: dataclasses.asdict(self.study)}
        return self.training.to_yaml() + yaml.safe_dump(
            section, sort_keys=False, default_flow_style=None
        )


@dataclass
class _StudyRoot:
    """The tree the ``study.*`` keys are set on: rooted at ``study``, so that an error names the
    whole key (``study.classifers``) and its did-you-mean the whole suggestion."""

    study: StudyConfig = field(default_factory=StudyConfig)


@dataclass
class _RareStudyRoot:
    """:class:`_StudyRoot` of a rare-event study."""

    study: RareStudyConfig = field(default_factory=RareStudyConfig)


def load_study_config(
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    base: dict[str, Any] | None = None,
) -> StudySettings:
    """The settings of a study from a file (a user's, or a study folder's ``study.yaml``), a dict
    and ``KEY=VALUE`` strings, later sources winning.

    ``study`` and ``study.*`` keys set :class:`StudyConfig`, or :class:`RareStudyConfig` for
    a table or labelled vectors, or when a key only it has is given (e.g. ``study.minority=3``
    on digits); every other key goes to :func:`gankit.config.load_config`, over
    :data:`STUDY_DEFAULTS` (and :data:`RARE_DEFAULTS` for a rare-event study).
    """
    from_file = read_config_file(path) if path is not None else {}
    study_file, training_file = _split(from_file)
    study_base, training_base = _split(base or {})
    study_overrides: list[tuple[str, str]] = []
    training_overrides: list[str] = []  # load_config parses these, and refuses one without "="
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and _is_study_key(key.strip()):
            study_overrides.append((key.strip(), value.strip()))
        else:
            training_overrides.append(override)

    file_keys, base_keys = _dotted(training_file), _dotted(training_base)
    study_keys = {
        key.removeprefix(f"{SECTION}.")
        for key in [*_dotted(study_file), *_dotted(study_base), *(k for k, _ in study_overrides)]
    }
    data = {**STUDY_DEFAULTS, **file_keys, **base_keys}.get("data")
    for override in training_overrides:
        key, _, value = override.partition("=")
        data = value.strip() if key.strip() == "data" else data
    rare = data_kind(str(data)) in ("tables", "vectors") or bool(study_keys & RARE_KEYS)
    defaults = {**STUDY_DEFAULTS, **RARE_DEFAULTS} if rare else STUDY_DEFAULTS
    training = load_config(
        None, training_overrides, base={**file_keys, **base_keys}, defaults=defaults
    )
    if path is not None:
        # load_config read the file's keys as part of ``base``: name the file as their source
        overridden = {o.partition("=")[0].strip() for o in training_overrides}
        for key in file_keys.keys() - base_keys.keys() - overridden:
            training.sources[key] = str(path)

    root = _RareStudyRoot() if rare else _StudyRoot()
    apply_dict(root, study_file)
    apply_dict(root, study_base)
    for key, value in study_overrides:
        set_key(root, key, value, from_text=True)
    validate(root)
    if rare:
        _check_rare_study(root.study, f"{SECTION}.")
    else:
        _check_study(root.study, f"{SECTION}.")
    return StudySettings(root.study, training)


def _is_study_key(key: str) -> bool:
    return key == SECTION or key.startswith(f"{SECTION}.")


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A mapping's study keys (``study:`` or ``study.x``), and the others."""
    study = {key: value for key, value in values.items() if _is_study_key(key)}
    return study, {key: value for key, value in values.items() if key not in study}


def _dotted(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as dotted keys, so that a file's keys and a dict's merge key by key."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _check_study(study: StudyConfig, prefix: str) -> None:
    if not study.fractions or not all(0 < f <= 1 for f in study.fractions):
        raise ConfigError(
            f"config key '{prefix}fractions' needs one or more fractions of the training data "
            f"in (0, 1], e.g. [0.05, 0.1, 1]; got {study.fractions}"
        )
    if len(set(study.fractions)) < len(study.fractions):
        raise ConfigError(f"config key '{prefix}fractions' repeats a fraction: {study.fractions}")
    if not study.classifiers:
        raise ConfigError(
            f"config key '{prefix}classifiers' needs at least one of logistic, cnn, boosting"
        )


def _check_rare_study(study: RareStudyConfig, prefix: str) -> None:
    if not study.prevalence or not all(0 < p < 0.5 for p in study.prevalence):
        raise ConfigError(
            f"config key '{prefix}prevalence' needs one or more shares of the training rows in "
            f"(0, 0.5), e.g. [0.01, 0.02, 0.05]; got {study.prevalence}"
        )
    if len(set(study.prevalence)) < len(study.prevalence):
        raise ConfigError(f"config key '{prefix}prevalence' repeats a value: {study.prevalence}")
    if "real" not in study.regimes:
        raise ConfigError(
            f"config key '{prefix}regimes' must include real: every gain is measured against it"
        )
    if not study.classifiers:
        raise ConfigError(
            f"config key '{prefix}classifiers' needs at least one of logistic, boosting, mlp"
        )
