"""gankit: generative adversarial networks, as the classic formulation states them, made useful.

>>> import gankit
>>> run = gankit.train({"data": "ring8", "steps": 2000}, out="runs/ring8")
>>> x = run.sample(1000)                 # (1000, 2) array in the data's units
>>> gankit.load("runs/ring8").evaluate()  # modes, high_quality, reverse_kl, ...
>>> gankit.resume("runs/ring8")          # a stopped run goes on from its newest checkpoint
>>> gankit.augment_study({"study.fractions": [0.05, 0.1]}, out="runs/augment")  # digits
>>> gankit.write_report("runs/augment")  # one HTML page: runs/augment/report.html
"""

from gankit.config import Config, load_config
from gankit.errors import GankitError
from gankit.report import write_report
from gankit.run import Run, load
from gankit.study import augment_study
from gankit.train import resume, train

__all__ = [
    "Config",
    "GankitError",
    "Run",
    "augment_study",
    "load",
    "load_config",
    "resume",
    "train",
    "write_report",
]
__version__ = "0.1.0"
