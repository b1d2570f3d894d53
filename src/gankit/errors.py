"""The exceptions gankit means users to see.

:class:`GankitError` is bad input: the CLI prints its one line and exits with status 2.
:class:`DivergenceError` is a training that went to NaN or Inf: good input, a failed run; the
CLI exits with status 3. Anything else is a bug in gankit and exits with status 1.
"""


class GankitError(Exception):
    """Bad input: the message names the problem and how to fix it, in one line."""


class ConfigError(GankitError):
    """A config file or override that does not fit the schema."""


class DataError(GankitError):
    """Data that cannot be trained on: missing, empty, malformed or non-finite."""


class DivergenceError(Exception):
    """NaN or Inf in a loss or in the parameters of ``network`` ("generator" or "discriminator")."""

    def __init__(self, message: str, network: str, step: int) -> None:
        super().__init__(message)
        self.network = network
        self.step = step

    def __reduce__(self) -> tuple[type, tuple[str, str, int]]:
        # Pickled whole, so that a study's worker process can report it to the parent.
        return (type(self), (str(self), self.network, self.step))
