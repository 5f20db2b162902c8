"""Data-parallel helpers: which rank this process is, how ranks agree, and how to start them.

One code path serves every way of running: a plain process is rank 0 of 1 and every helper
here is then a no-op; ``torchrun`` (one machine or many) and Ray Train set ``RANK`` /
``WORLD_SIZE`` / ``MASTER_ADDR`` for each process, and :func:`join` opens the process group
from them (gloo on CPU, NCCL on GPUs); ``--distributed --nproc N`` starts N local ranks itself
through torch's elastic launcher, exactly as ``torchrun --standalone`` would.

The design is the replicated one: every rank holds the whole graph and model, trains on its own
slice of each global batch of edges, and DDP averages the gradients, so the ranks stay
identical replicas. Rank 0 alone validates and broadcasts the figures, so every rank takes the
same early-stopping decisions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from training.errors import JobError

T = TypeVar("T")


class LaunchError(JobError):
    """A rank failed; the message carries the failing rank's error."""


@dataclass(frozen=True)
class Rank:
    """This process's place among the ranks (0 of 1 when nothing is distributed)."""

    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def primary(self) -> bool:
        return self.rank == 0


def current() -> Rank:
    """The rank of this process in the open process group (0 of 1 when there is none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Rank()
    return Rank(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def launched() -> bool:
    """True in a process a launcher started as a rank (torchrun, even with one process)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


@contextmanager
def joined(device: torch.device) -> Iterator[torch.device]:
    """This rank's device inside the process group opened from the launcher's environment
    (gloo on CPU, NCCL on GPUs), closed again on the way out; a plain process, or one whose
    group is already open (Ray Train opens its own), gets ``device`` and nothing opened. A CUDA
    device becomes ``cuda:LOCAL_RANK``."""
    local = int(os.environ.get("LOCAL_RANK", 0))
    if device.type == "cuda" and launched():
        if local >= torch.cuda.device_count():
            raise LaunchError(
                f"rank with LOCAL_RANK={local} has no GPU ({torch.cuda.device_count()} visible): "
                "start at most one process per GPU"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    opened = launched() and not dist.is_initialized()
    if opened:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            # the local ranks share the cores (torchrun sets OMP_NUM_THREADS=1 for this;
            # the elastic launcher does not, and 2 ranks × all cores thrash)
            local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_ranks))
    try:
        yield device
    finally:
        if opened:
            dist.destroy_process_group()


def broadcast(value: T) -> T:
    """Rank 0's ``value`` on every rank (any picklable object)."""
    if current().world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: T) -> list[T]:
    """Every rank's ``value``, in rank order, on every rank."""
    ranks = current()
    if ranks.world == 1:
        return [value]
    out: list[Any] = [None] * ranks.world
    dist.all_gather_object(out, value)
    return out


def barrier() -> None:
    if current().world > 1:
        dist.barrier()


@contextmanager
def primary_first() -> Iterator[None]:
    """Rank 0 runs the body first (filling caches, say), then the others, which find them
    warm."""
    ranks = current()
    if not ranks.primary:
        barrier()
    yield
    if ranks.primary:
        barrier()


def my_slice(batch: Tensor) -> Tensor:
    """This rank's share of a global batch (every ``world``-th element from ``rank``): the
    shares are disjoint and together are the batch, whatever its length."""
    ranks = current()
    return batch if ranks.world == 1 else batch[ranks.rank :: ranks.world]


def data_parallel(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` wrapped in DDP inside a process group (of any size), else itself. Its forward
    must give every parameter a gradient on every rank (DDP's reducer waits for all)."""
    if not (dist.is_available() and dist.is_initialized()):
        return module
    return nn.parallel.DistributedDataParallel(
        module, device_ids=[device.index] if device.type == "cuda" else None
    )


def launch(nproc: int, entry: Callable[..., T], *args: Any) -> T:
    """Run ``entry(*args)`` on ``nproc`` local ranks through torch's elastic launcher (as
    ``torchrun --standalone --nproc-per-node N`` does) and return rank 0's result. ``entry``
    must be a module-level function: the ranks are spawned processes."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise LaunchError(f"--nproc must be at least 1, got {nproc}")
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
        monitor_interval=0.1,
        start_method="spawn",
    )
    try:
        results = elastic_launch(config, _recorded)(entry, *args)
    except ChildFailedError as e:
        failures = "; ".join(
            f"rank {rank}: {failure.message or 'exit code ' + str(failure.exitcode)}"
            for rank, failure in sorted(e.failures.items())
        )
        raise LaunchError(f"distributed run failed: {failures}") from None
    return results[0]


def _recorded(entry: Callable[..., T], *args: Any) -> T:
    """``entry(*args)`` with its error recorded for the launcher, which then reports the
    rank's message instead of a bare exit code."""
    from torch.distributed.elastic.multiprocessing.errors import record

    return record(entry)(*args)
