"""How many CPU threads torch uses for a piece of work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch's CPU ops on ``count`` threads (0 leaves torch's default), then restore it.

    Small tensors (MLPs on vectors, 1D quadrature) run fastest on one thread: each op is a
    few microseconds, so waking more threads costs more than it saves, and far more when
    other processes keep the cores busy (seen here: 100x slower on a loaded 2-core machine).
    """
    before = torch.get_num_threads()
    if count > 0:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
