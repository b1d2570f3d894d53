"""The one exception type that means "the user gave bad input".

The CLI turns a :class:`GankitError` into a single line on stderr and exit status 2;
anything else is a bug in gankit and exits with status 1.
"""


class GankitError(Exception):
    """Bad input: the message names the problem and how to fix it, in one line."""


class ConfigError(GankitError):
    """A config file or override that does not fit the schema."""


class DataError(GankitError):
    """Data that cannot be trained on: missing, empty, malformed or non-finite."""


class DivergenceError(GankitError):
    """NaN or Inf in a loss or in the parameters of ``network`` ("generator" or "discriminator")."""

    def __init__(self, message: str, network: str, step: int) -> None:
        super().__init__(message)
        self.network = network
        self.step = step
