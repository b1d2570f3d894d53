"""Training: the engine (:mod:`~gankit.training.engine`) and, around it, the way from a config to
a run folder (:mod:`~gankit.training.run_training`, behind ``gankit.train`` and
``gankit.resume``): checkpoints, the divergence guard, reporters, torchrun and pictures; and
populations (:mod:`~gankit.training.population`), many runs stepped together.

The package is named ``training`` so that ``gankit.train``, the function, is never shadowed by a
subpackage of the same name.
"""
