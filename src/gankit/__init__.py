"""gankit: generative adversarial networks, as the classic formulation states them, made useful.

>>> import gankit
>>> run = gankit.train({"data": "ring8", "steps": 2000}, out="runs/ring8")
>>> x = run.sample(1000)                 # (1000, 2) array in the data's units
>>> gankit.load("runs/ring8").evaluate()  # modes, high_quality, reverse_kl, ...
>>> gankit.resume("runs/ring8")          # a stopped run goes on from its newest checkpoint
"""

from gankit.config import Config, load_config
from gankit.errors import GankitError
from gankit.run import Run, load
from gankit.train import resume, train

__all__ = ["Config", "GankitError", "Run", "load", "load_config", "resume", "train"]
__version__ = "0.1.0"
