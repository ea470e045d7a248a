"""Running backpack on several processes (and machines) with ``torch.distributed``.

Nothing here is home-made transport: processes are started by ``torchrun``
(:mod:`torch.distributed.run`), gradients are averaged by ``DistributedDataParallel`` and the
prototype build all-reduces its float64 sums and counts. One rule keeps the job safe: only the
main process (rank 0) writes to a store or a RUN folder, and it writes each file atomically, so
a rank that fails stops the whole job (torchrun ends the others) without anything half-written.

This package imports only the standard library at the top; torch is imported by the functions
that need it, so the CLI can use :func:`backpack.distributed.cli.nproc_option` cheaply.

Examples
--------
>>> from backpack.distributed import launch                          # doctest: +SKIP
>>> launch(["train", "--data", "data/", "--tasks", "ar", "--out", "runs/x"], nproc=2)
0
"""

from __future__ import annotations

from backpack._lazy import lazy_getattr

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
    "all_reduce_accumulator": "backpack.distributed.reduce",
    "all_reduce_mean": "backpack.distributed.reduce",
    "wrap_model": "backpack.distributed.ddp",
    "unwrap_model": "backpack.distributed.ddp",
    "shard": "backpack.distributed.ddp",
    "local_batch": "backpack.distributed.ddp",
    "launch": "backpack.distributed.launch",
    "torchrun_command": "backpack.distributed.launch",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
