"""All-reduce of the prototype build's state: float64 sums per (verb, noun) and task, and counts.

A data-parallel build forwards a different shard of the clips on every rank into the same
fixed-shape accumulator, then sums the states across ranks once, after the loop. Sums are
float64, so the result equals a one-process build to ~1e-12 (summation order is the only
difference), far inside the 1e-6 the store promises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from backpack.distributed.env import is_distributed
from backpack.errors import ConfigError, invalid

if TYPE_CHECKING:
    from torch import Tensor


def _reduce_device() -> Any:
    import torch
    import torch.distributed as dist

    # NCCL reduces only CUDA tensors; gloo reduces CPU tensors.
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sums(sums: Mapping[str, Tensor], counts: Tensor) -> None:
    """Sum ``sums`` ({task: [P, D] float64}) and ``counts`` ([P] int64) over every rank, in place.

    No-op when not distributed. All sums travel in one flat float64 buffer (one collective for
    all tasks), counts in a second one.

    Shapes: sums {task: [P, D_task]}, counts [P]; the same P and task order on every rank.

    Raises
    ------
    ConfigError
        Sums that are not float64 or whose rows disagree with ``counts``.
    """
    if not is_distributed():
        return
    import torch
    import torch.distributed as dist

    names = sorted(sums)
    for t in names:
        s = sums[t]
        if s.dtype != torch.float64 or s.dim() != 2 or s.shape[0] != counts.shape[0]:
            raise ConfigError(
                invalid(
                    "sums", f"task {t!r}", f"float64 [{counts.shape[0]}, D]", f"{s.dtype} {list(s.shape)}"
                )
            )
    dev = _reduce_device()
    flat = (
        torch.cat([sums[t].reshape(-1) for t in names]).to(dev)
        if names
        else torch.zeros(0, dtype=torch.float64)
    )
    cnt = counts.to(device=dev, dtype=torch.int64)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    dist.all_reduce(cnt, op=dist.ReduceOp.SUM)
    flat = flat.cpu()
    lo = 0
    for t in names:
        n = sums[t].numel()
        sums[t].copy_(flat[lo : lo + n].view_as(sums[t]))
        lo += n
    counts.copy_(cnt.cpu().to(counts.dtype))


def all_reduce_mean(values: Mapping[str, float]) -> dict[str, float]:
    """The mean over ranks of each named float (e.g. each task's training loss of an epoch).

    Every rank must pass the same names. One float64 collective; identity when not distributed.
    """
    if not is_distributed():
        return {k: float(v) for k, v in values.items()}
    import torch
    import torch.distributed as dist

    names = sorted(values)
    buf = torch.tensor([float(values[k]) for k in names], dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    buf = buf.cpu() / dist.get_world_size()
    return {k: float(v) for k, v in zip(names, buf.tolist())}


__all__ = ["all_reduce_mean", "all_reduce_sums"]
