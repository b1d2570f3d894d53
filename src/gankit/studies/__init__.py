"""Studies: many runs, and what they show together.

``gankit augment``: does adding G's samples to scarce real data make a better classifier, without
copying the training data? Its settings (:mod:`~gankit.studies.config`), one cell of it
(:mod:`~gankit.studies.cells`), its tables (:mod:`~gankit.studies.tables`) and the study itself
over every cell (:mod:`~gankit.studies.augment`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "augment_study": "gankit.studies.augment",
    "resume_study": "gankit.studies.augment",
    "REGIMES": "gankit.studies.cells",
    "StudyConfig": "gankit.studies.config",
    "StudySettings": "gankit.studies.config",
    "load_study_config": "gankit.studies.config",
    "format_tables": "gankit.studies.tables",
}

if TYPE_CHECKING:
    from gankit.studies.augment import augment_study, resume_study
    from gankit.studies.cells import REGIMES
    from gankit.studies.config import StudyConfig, StudySettings, load_study_config
    from gankit.studies.tables import format_tables


def __getattr__(name: str) -> Any:
    # Loaded on first use: the settings (no torch) answer a mistyped key before torch loads.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "REGIMES",
    "StudyConfig",
    "StudySettings",
    "augment_study",
    "format_tables",
    "load_study_config",
    "resume_study",
]
