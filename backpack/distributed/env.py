"""Who am I in the job: rank helpers over ``torch.distributed`` (one process when not initialised).

Every helper works without an initialised process group (then there is one process, rank 0), so
library code calls them unconditionally: ``if is_main_process(): write(...)``.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

from backpack.errors import ConfigError, invalid

# Variables torchrun sets for each worker (torch.distributed.run, "env://" rendezvous).
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def under_torchrun() -> bool:
    """Whether this process was started by ``torchrun`` (its environment variables are set)."""
    return all(v in os.environ for v in TORCHRUN_VARS)


def is_distributed() -> bool:
    """Whether a ``torch.distributed`` process group is initialised (with more than one process)."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch is there wherever the model side runs
        return False
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """Global rank of this process (0 when not distributed)."""
    if not is_distributed():
        return 0
    import torch.distributed as dist

    return dist.get_rank()


def world_size() -> int:
    """Number of processes in the job (1 when not distributed)."""
    if not is_distributed():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


def is_main_process() -> bool:
    """True on rank 0, the only process that writes stores and RUN folders."""
    return rank() == 0


def default_backend() -> str:
    """``nccl`` when every local rank has its own GPU, else ``gloo`` (CPU, any machine).

    Decided from values every rank of a node sees alike, so all ranks pick the same backend.
    """
    import torch

    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    if torch.cuda.is_available() and torch.cuda.device_count() >= local_world:
        return "nccl"
    return "gloo"


def init_from_env(backend: str | None = None, timeout_s: float = 600.0) -> bool:
    """Join the job described by torchrun's environment variables; no-op outside torchrun.

    Parameters
    ----------
    backend : {"gloo", "nccl"}, optional
        Default: :func:`default_backend`. Set ``BACKPACK_DIST_BACKEND`` to force one.
    timeout_s : float
        How long a collective may wait for a peer before the job fails (a peer that died is
        usually noticed at once: its sockets close).

    Returns
    -------
    bool
        Whether a process group is (now) initialised.
    """
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return True
    if not under_torchrun():
        return False
    backend = backend or os.environ.get("BACKPACK_DIST_BACKEND") or default_backend()
    if backend not in ("gloo", "nccl"):
        raise ConfigError(invalid("backend", "torch.distributed", "'gloo' or 'nccl'", repr(backend)))
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend, init_method="env://", timeout=_dt.timedelta(seconds=timeout_s))
    return True


def shutdown(destroy: bool = False) -> None:
    """Leave the job: wait until every rank is done, then (``destroy=True``) destroy the group.

    The workers end with ``os._exit`` right after, which closes the sockets. They do not call
    ``destroy_process_group`` there: with gloo (torch 2.2) it hung now and then in a rank whose
    peer had already left (1 job in 3 in a repro loop, stacks dumped with PYTHONFAULTHANDLER).
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # nobody leaves (taking the rendezvous store with it) while a peer still works
        if destroy:
            dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if is_distributed():
        import torch.distributed as dist

        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every rank (pickled by torch; only for small, trusted values)."""
    if not is_distributed():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def device_for_rank(device: Any) -> Any:
    """The device a rank should use: under torch.distributed, ``cuda`` means this rank's own GPU
    (ranks share GPUs round-robin when a node has fewer GPUs than ranks)."""
    import torch

    dev = torch.device(device)
    if is_distributed() and dev.type == "cuda" and dev.index is None and torch.cuda.device_count() > 0:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    return dev


__all__ = [
    "TORCHRUN_VARS",
    "barrier",
    "broadcast_object",
    "default_backend",
    "device_for_rank",
    "init_from_env",
    "is_distributed",
    "is_main_process",
    "rank",
    "shutdown",
    "under_torchrun",
    "world_size",
]
