"""torch.distributed for the Pretrainer: launch detection, process group, rank-0 guard.

A run started by ``torchrun`` (or any launcher that sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``, e.g. ``srun`` with those exported) is
detected from its environment; the Pretrainer then initialises the process group (NCCL on
GPU, Gloo on CPU), wraps the method in DistributedDataParallel and tears the group down at
the end. A process group the caller initialised itself is used and left alone.

Conventions (see ``docs/distributed.md``): ``batch_size`` is the *global* batch, split evenly
over the ranks, so the learning rate and schedule do not depend on the number of processes.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ecgssl.errors import InvalidValueError
from ecgssl.methods.base import SSLMethod
from ecgssl.methods.gather import gather_with_grad, is_distributed
from ecgssl.training.batches import LoaderBatches, TensorBatches
from ecgssl.training.stream_batches import StreamBatches

__all__ = [
    "DistEnv",
    "StepModule",
    "all_ranks_true",
    "broadcast_buffers",
    "broadcast_object",
    "check_replicas",
    "detect_launch",
    "gather_objects",
    "gather_with_grad",
    "is_distributed",
    "is_main_process",
    "mean_over_ranks",
    "rank",
    "replicas_agree",
    "setup",
    "shard_batches",
    "world_size",
]


@dataclass(frozen=True)
class DistEnv:
    """Where this process stands in a launch.

    Attributes:
        rank: Global rank (0 .. world_size - 1).
        world_size: Number of processes.
        local_rank: Rank on this machine (selects the GPU).
    """

    rank: int
    world_size: int
    local_rank: int


def detect_launch(environ: dict[str, str] | None = None) -> DistEnv | None:
    """The torchrun-style launch this process is part of, or ``None`` for a plain run.

    A launch needs ``WORLD_SIZE`` > 1 and ``RANK``; ``LOCAL_RANK`` defaults to 0.

    Raises:
        ValueError: the variables are present but inconsistent.
    """
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return None
    try:
        world = int(env["WORLD_SIZE"])
        rk = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", "0"))
    except ValueError as e:
        raise InvalidValueError(
            f"invalid RANK/WORLD_SIZE/LOCAL_RANK environment variables: {e}"
        ) from e
    if world <= 1:
        return None
    if not 0 <= rk < world or local < 0:
        raise InvalidValueError(f"RANK={rk} / LOCAL_RANK={local} do not fit WORLD_SIZE={world}")
    for var in ("MASTER_ADDR", "MASTER_PORT"):
        if var not in env and not dist.is_initialized():
            raise InvalidValueError(
                f"WORLD_SIZE={world} is set but {var} is not: launch with torchrun, or export "
                "MASTER_ADDR and MASTER_PORT (see docs/distributed.md)"
            )
    return DistEnv(rk, world, local)


def setup(env: DistEnv, device: torch.device) -> tuple[torch.device, bool]:
    """Initialise the default process group for ``env`` unless one exists.

    Args:
        env: The launch (from :func:`detect_launch`).
        device: The device the user asked for; ``cuda`` becomes ``cuda:LOCAL_RANK``.

    Returns:
        The device of this rank, and whether this call created the process group (and
        should destroy it at the end).
    """
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank if device.index is None else device.index)
        torch.cuda.set_device(device)
    if dist.is_initialized():
        if dist.get_world_size() != env.world_size:
            raise InvalidValueError(
                f"the initialised process group has {dist.get_world_size()} ranks but "
                f"WORLD_SIZE is {env.world_size}"
            )
        return device, False
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"device_id": device} if backend == "nccl" else {}
    dist.init_process_group(backend, rank=env.rank, world_size=env.world_size, **kwargs)
    return device, True


def rank() -> int:
    """This process's rank (0 outside a distributed run)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 outside a distributed run)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Whether this process is rank 0, the one that writes checkpoints, logs and progress bars.

    Also right before and after the process group exists (the Pretrainer destroys the group
    it created when ``fit`` returns): under torchrun it falls back to the ``RANK`` variable, so
    scripts can guard their own output with it.
    """
    if is_distributed():
        return dist.get_rank() == 0
    launch = detect_launch() if "WORLD_SIZE" in os.environ else None
    return launch is None or launch.rank == 0


def _flag_device() -> torch.device:
    backend = dist.get_backend()
    return torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else (
        torch.device("cpu"))  # fmt: skip


def all_ranks_true(flag: bool) -> bool:
    """Whether ``flag`` holds on every rank (one tiny all-reduce; ``flag`` when not distributed)."""
    if not is_distributed():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_flag_device())
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0)


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Average scalar logs over ranks (the same keys on every rank); identity otherwise."""
    if not is_distributed() or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=_flag_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) / dist.get_world_size() for k, v in zip(keys, t.tolist())}


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` when not distributed."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank; ``obj`` when not distributed."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@torch.no_grad()
def broadcast_buffers(module: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    Each rank's last forward pass updates its running statistics with its own slice;
    DistributedDataParallel overwrites them with rank 0's at the next forward pass. Doing the
    same before a checkpoint and at the end of training leaves identical models everywhere.
    """
    if is_distributed():
        for buf in module.buffers():
            dist.broadcast(buf, src=0)


@torch.no_grad()
def replicas_agree(module: nn.Module) -> bool:
    """Whether every rank holds bit-identical parameters and buffers of ``module``.

    Compares a float64 fingerprint per tensor (sum and sum of squares weighted by position)
    across ranks; used to check that EMA targets stay identical on every rank.
    """
    if not is_distributed():
        return True
    prints = []
    for t in [*module.parameters(), *module.buffers()]:
        v = t.detach().double().flatten()
        w = torch.arange(1, v.numel() + 1, dtype=torch.float64, device=v.device)
        prints.append(torch.stack([v.sum(), (v * v * w).sum()]))
    if not prints:
        return True
    local = torch.stack(prints).cpu()
    return all(torch.equal(local, other) for other in gather_objects(local))


def check_replicas(method: SSLMethod, when: str) -> None:
    """Give every rank rank 0's BatchNorm statistics, then check that all ranks hold the same
    weights, EMA targets included; warn if not (a no-op in one process)."""
    broadcast_buffers(method)
    if not replicas_agree(method):
        warnings.warn(
            f"the weights (or EMA targets) of {method.name} differ between ranks {when}",
            RuntimeWarning, stacklevel=4,
        )  # fmt: skip


def shard_batches(batches: TensorBatches | StreamBatches | LoaderBatches, rk: int,
                  world: int) -> None:  # fmt: skip
    """Split an in-memory or streamed set over the ranks (a streamed rank reads only its
    slice of each batch); check that a loader is sharded by its sampler."""
    if isinstance(batches, (TensorBatches, StreamBatches)):
        batches.shard(rk, world)
        return
    sampler = getattr(batches.loader, "sampler", None)
    if rk == 0 and not isinstance(sampler, torch.utils.data.DistributedSampler):
        warnings.warn(
            f"distributed run on a {type(batches.loader).__name__} without a DistributedSampler: "
            "every rank trains on all of its batches; build the loader with "
            "sampler=DistributedSampler(dataset) (see docs/distributed.md)",
            RuntimeWarning, stacklevel=5,
        )  # fmt: skip


class StepModule(nn.Module):
    """Expose :meth:`SSLMethod.training_step` as ``forward`` so that DistributedDataParallel's
    hooks (gradient all-reduce, buffer broadcast) run around it."""

    def __init__(self, method: SSLMethod) -> None:
        super().__init__()
        self.method = method

    def forward(self, view1: Tensor, view2: Tensor, **kwargs: Tensor) -> dict[str, Tensor]:
        """The method's training step on this rank's views (``kwargs``: e.g. patient ids)."""
        return self.method.training_step(view1, view2, **kwargs)
