"""gankit: generative adversarial networks, as the classic formulation states them, made useful.

>>> import gankit
>>> run = gankit.train({"data": "ring8", "steps": 2000}, out="runs/ring8")
>>> x = run.sample(1000)                 # (1000, 2) array in the data's units
>>> run.save_samples("ring8.csv", 1000)  # what `gankit sample` writes
>>> gankit.load("runs/ring8").evaluate()  # modes, high_quality, reverse_kl, ...
>>> gankit.resume("runs/ring8")          # a stopped run goes on from its newest checkpoint
>>> gankit.train({"data": "ring8", "population.seeds": 5}, out="runs/p")  # 5 seeds at once
>>> gankit.augment_study({"study.fractions": [0.05, 0.1]}, out="runs/augment")  # digits
>>> gankit.write_report("runs/augment")  # one HTML page: runs/augment/report.html

Importing gankit loads nothing heavy (no torch): each name below loads its module on first use
(PEP 562), so that ``gankit --help`` and a mistyped setting answer at once. Messages go to the
``gankit`` logger: ``logging.getLogger("gankit").setLevel(logging.WARNING)`` quiets them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Config": "gankit.config",
    "load_config": "gankit.config",
    "GankitError": "gankit.errors",
    "DivergenceError": "gankit.errors",
    "PopulationRun": "gankit.training.population",
    "Run": "gankit.run",
    "load": "gankit.run",
    "train": "gankit.training.run_training",
    "resume": "gankit.training.run_training",
    "augment_study": "gankit.studies",
    "write_report": "gankit.output.html_report",
}

if TYPE_CHECKING:
    from gankit.config import Config, load_config
    from gankit.errors import DivergenceError, GankitError
    from gankit.output.html_report import write_report
    from gankit.run import Run, load
    from gankit.studies import augment_study
    from gankit.training.population import PopulationRun
    from gankit.training.run_training import resume, train


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Config",
    "DivergenceError",
    "GankitError",
    "PopulationRun",
    "Run",
    "augment_study",
    "load",
    "load_config",
    "resume",
    "train",
    "write_report",
]
