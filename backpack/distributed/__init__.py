"""Running backpack on several processes (and machines) with ``torch.distributed``.

Nothing here is home-made transport: processes are started by ``torchrun``
(:mod:`torch.distributed.run`), gradients are averaged by ``DistributedDataParallel`` and the
prototype build all-reduces its float64 sums and counts. One rule keeps the job safe: only the
main process (rank 0) writes to a store or a RUN folder, and it writes each file atomically, so
a rank that fails stops the whole job (torchrun ends the others) without anything half-written.

This package imports only the standard library at the top; torch is imported by the functions
that need it. Starting processes (``--nproc``) is the CLI's job: :mod:`backpack.cli.launch`.

Examples
--------
>>> from backpack.distributed import is_main_process, all_reduce_mean   # doctest: +SKIP
>>> all_reduce_mean({"loss": 0.5})          # the mean over ranks (the value itself on one process)
{'loss': 0.5}
"""

from __future__ import annotations

from typing import Any

from backpack._lazy import deprecated_getattr, lazy_getattr

_LAZY = {
    "is_distributed": "backpack.distributed.env",
    "is_main_process": "backpack.distributed.env",
    "rank": "backpack.distributed.env",
    "world_size": "backpack.distributed.env",
    "under_torchrun": "backpack.distributed.env",
    "init_from_env": "backpack.distributed.env",
    "shutdown": "backpack.distributed.env",
    "barrier": "backpack.distributed.env",
    "broadcast_object": "backpack.distributed.env",
    "all_reduce_sums": "backpack.distributed.reduce",
    "all_reduce_mean": "backpack.distributed.reduce",
    "wrap_model": "backpack.distributed.ddp",
    "unwrap_model": "backpack.distributed.ddp",
    "shard": "backpack.distributed.ddp",
    "local_batch": "backpack.distributed.ddp",
}
# Starting processes is the CLI's job now (backpack.cli.launch); the old names warn until 0.3.
_MOVED = {"launch": "backpack.cli.launch", "torchrun_command": "backpack.cli.launch"}

__all__ = sorted(_LAZY)

_current = lazy_getattr(__name__, _LAZY)
_moved = deprecated_getattr(__name__, _MOVED, removed_in="0.3")


def __getattr__(name: str) -> Any:
    return _moved(name) if name in _MOVED else _current(name)
