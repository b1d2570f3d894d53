"""Training spread over several processes and machines, as ``torchrun`` starts them.

torchrun starts one process per device and tells each, through environment variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), who it is and
where to meet the others; :func:`process_group` reads them and joins the group (gloo for the
CPU, NCCL for CUDA). A :class:`World` is that group as the trainer sees it:

- **Sharding.** Every process draws the *global* minibatch of ``batch_size`` real vectors and
  noise vectors from the same seeded streams and keeps its own contiguous slice of
  ``batch_size / world size`` rows. The other slices are drawn and thrown away: for vectors
  this costs tens of microseconds a step, and it makes a run on W processes see exactly the
  minibatches of a single-process run, and leaves the streams' state (in checkpoints)
  independent of W, so that a run can go on with another number of processes.
- **Gradients.** Each process's losses are means over its slice, and DDP averages the
  gradients over the processes: the mean of W equal-sized slice means is the mean over the
  global batch, so every process takes the step a single process would on the whole batch.
- **Rank 0** alone logs, evaluates and writes files; what it reads (a checkpoint) it sends
  to the others, so only rank 0's machine needs to see the run folder, and so is its fit of a
  table's encoding, so that every process trains on the same rows.

Batch norm normalises by the statistics of the batch it sees, which is each process's slice
unless ``sync_batch_norm`` gathers them over all processes (CUDA only: PyTorch's
SyncBatchNorm refuses CPU tensors).

A single process (no torchrun, or one process) is a ``World`` of size 1, where every method
gives back its input untouched and nothing is communicated.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from gankit.errors import ConfigError, GankitError


@dataclass(frozen=True)
class World:
    """The processes a run is spread over, and this one's place among them."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, evaluates and writes the run folder."""
        return self.rank == 0

    def check_batch_size(self, batch_size: int, pack: int) -> None:
        """Refuse a global batch that does not split into equal slices of whole packs."""
        step = self.size * pack
        if batch_size % step:
            packs = f" times pack ({pack})" if pack > 1 else ""
            nearest = max(step, round(batch_size / step) * step)
            raise ConfigError(
                f"batch_size ({batch_size}) must be a multiple of the number of processes "
                f"({self.size}){packs}: it is the global minibatch, split evenly over the "
                "processes"
                + (", and D judges pack samples at a time" if pack > 1 else "")
                + f"; set e.g. batch_size={nearest}"
            )

    def shard(self, batch: Tensor) -> Tensor:
        """This process's contiguous slice of a global minibatch (the batch itself when alone)."""
        if self.size == 1:
            return batch
        size = batch.shape[0] // self.size
        return batch[self.rank * size : (self.rank + 1) * size]

    def mean(self, values: Tensor) -> Tensor:
        """The mean of ``values`` over the processes (equal-sized slices: the global mean)."""
        if self.size == 1:
            return values
        values = values.clone()
        dist.all_reduce(values)
        return values / self.size

    def sync_batch_norm(self, module: nn.Module, enabled: bool, device: torch.device) -> nn.Module:
        """``module`` with its batch norms synchronised over the processes, if ``enabled``."""
        if not enabled or self.size == 1:  # alone, the slice is the whole batch
            return module
        if device.type != "cuda":
            raise GankitError(
                "sync_batch_norm=true needs CUDA: PyTorch's SyncBatchNorm does not run on the "
                "CPU; set sync_batch_norm=false (each process then normalises by its own "
                "slice of the batch)"
            )
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` as the gradient steps call it: under DDP when there are several processes.

        DDP starts every process from rank 0's weights and averages the gradients over the
        processes in ``backward``; optimizers and checkpoints keep using ``module`` itself.
        """
        if self.size == 1:
            return module
        # Buffers are batch-norm running statistics: training normalises by batch statistics,
        # and only rank 0's are evaluated and saved, so they need not be sent every step.
        return DistributedDataParallel(module, forward_sync_buffers=False)

    def share(self, produce: Callable[[], bytes]) -> bytes:
        """``produce()`` run by rank 0 alone, its bytes handed to every process.

        A :class:`GankitError` it raises is raised in every process, so that all of them stop
        with the same message rather than the others waiting for rank 0 forever.
        """
        if self.size == 1:
            return produce()
        payload, failure = b"", None
        if self.is_main:
            try:
                payload = produce()
            except GankitError as error:
                payload, failure = str(error).encode(), error
        header = torch.tensor([len(payload), failure is not None])
        dist.broadcast(header, src=0)
        length, failed = header.tolist()
        if length:
            buffer = (
                torch.frombuffer(bytearray(payload), dtype=torch.uint8)
                if self.is_main
                else torch.empty(length, dtype=torch.uint8)
            )
            dist.broadcast(buffer, src=0)
            payload = bytes(buffer.numpy())
        if failed:
            raise failure or GankitError(payload.decode())
        return payload

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.size > 1:
            dist.barrier()


SINGLE = World()
"""A run in one process."""


@contextlib.contextmanager
def process_group() -> Iterator[World]:
    """The world torchrun started this process in (a single one without torchrun).

    Joins the process group from torchrun's environment and leaves it at the end; a group the
    caller initialised already is used as it is, and left to the caller.
    """
    if dist.is_available() and dist.is_initialized():
        yield World(dist.get_rank(), dist.get_world_size())
        return
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        yield SINGLE
        return
    if not dist.is_available():
        raise GankitError("WORLD_SIZE > 1, but this build of PyTorch has no torch.distributed")
    cuda = torch.cuda.is_available()
    if cuda:  # "cuda" then names this process's own GPU, for the trainer and for NCCL
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        # Each collective goes to the backend of its tensors' device: gloo for CPU tensors
        # (and for a run with device=cpu on a GPU machine), NCCL for CUDA ones.
        dist.init_process_group("cpu:gloo,cuda:nccl" if cuda else "gloo")
    except (ValueError, KeyError, RuntimeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise GankitError(
            f"WORLD_SIZE={size}, but joining the other processes failed ({reason}); "
            "start several processes with torchrun (see the README)"
        ) from None
    try:
        yield World(dist.get_rank(), size)
        # Leave together: a process that tears gloo down while another still talks to it can
        # abort at exit ("terminate called without an active exception").
        dist.barrier()
    finally:
        dist.destroy_process_group()


def is_main_process() -> bool:
    """Whether this process is rank 0 of torchrun's processes (or runs alone)."""
    return int(os.environ.get("RANK", "0")) == 0
