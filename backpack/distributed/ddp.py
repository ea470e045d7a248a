"""Data parallelism for training and building: DDP wrapping and sharding of samples and batches.

Training keeps the *global* batch: every optimisation step, each rank takes its share
(:func:`local_batch`) of the same global batch indices, computes the mean loss of its share and
``DistributedDataParallel`` averages the gradients. With equal shares this is the gradient of the
global batch's mean loss, so N processes follow the one-process trajectory up to float rounding
(and dropout masks, which differ per process).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from backpack.distributed.env import is_distributed, rank, world_size

T = TypeVar("T")


def wrap_model(model: Any, device: Any = None, find_unused_parameters: bool = False) -> Any:
    """``DistributedDataParallel(model)`` when distributed, else ``model`` itself.

    ``find_unused_parameters=True`` lets a step leave some parameters without gradient (the
    learner never uses its base heads' classifiers) but needs exactly one forward per backward;
    the multi-task step forwards every task before one backward, which DDP allows only when
    every parameter is used (``False``). :func:`backpack.pipeline.trainer.fit` picks accordingly.

    The model's parameters must already be on ``device``. DDP broadcasts rank 0's weights at
    construction, so every rank starts from the same model. Buffers are not re-broadcast at
    every forward (the models here have none that training changes), which also lets a rank run
    the unwrapped model alone (evaluation on rank 0) without a collective.
    """
    if not is_distributed():
        return model
    import torch
    from torch.nn.parallel import DistributedDataParallel

    ids = None
    if device is not None and torch.device(device).type == "cuda":
        ids = [torch.device(device).index or 0]
    return DistributedDataParallel(
        model, device_ids=ids, broadcast_buffers=False, find_unused_parameters=find_unused_parameters
    )


def unwrap_model(model: Any) -> Any:
    """The module inside a DDP wrapper (``model`` itself otherwise)."""
    return getattr(model, "module", model)


def shard(items: Sequence[T], rank_: int | None = None, world: int | None = None) -> list[T]:
    """This rank's share of ``items``: ``items[rank::world]`` (all of them when not distributed).

    Strided, not blocked, so shares differ in size by at most one and stay balanced when the
    items are sorted by size or video.
    """
    r = rank() if rank_ is None else rank_
    w = world_size() if world is None else world
    return list(items[r::w])


def local_batch(indices: Any, rank_: int | None = None, world: int | None = None) -> Any:
    """This rank's share of one global batch of sample indices (what a DistributedSampler gives).

    Shapes: indices [B] -> [ceil((B - rank) / world)].
    """
    r = rank() if rank_ is None else rank_
    w = world_size() if world is None else world
    return indices[r::w]


__all__ = ["local_batch", "shard", "unwrap_model", "wrap_model"]
