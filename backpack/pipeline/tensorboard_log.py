"""Optional TensorBoard logging of the per-epoch records of ``train`` and ``learn``.

The records are the lines of ``metrics.jsonl``; this writes the same numbers as TensorBoard scalars
(``loss/train``, ``loss/<task>``, ``val/<task>/<metric>``) from the trainer's ``on_epoch`` hook.
The ``tensorboard`` package is optional: :func:`require_tensorboard` says how to install it.
Torch-free at import time (``torch.utils.tensorboard`` is imported when the first epoch ends).
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable
from typing import Any

from backpack.errors import ConfigError

INSTALL_HINT = "pip install tensorboard"


def _has_tensorboard() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def require_tensorboard() -> None:
    """Raise :class:`ConfigError` (one line, with the install command) when tensorboard is missing."""
    if not _has_tensorboard():
        raise ConfigError(
            f"--tensorboard needs the 'tensorboard' package, which is not installed. "
            f"Install it with `{INSTALL_HINT}` (or drop --tensorboard: metrics.jsonl has the same numbers)."
        )


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The TensorBoard scalars of one epoch record: ``{tag: value}`` (non-finite values left out)."""
    out = {"loss/train": record.get("loss")}
    out |= {f"loss/{t}": v for t, v in record.get("train_loss", {}).items()}
    for task, metrics in record.get("val", {}).items():
        out |= {f"val/{task}/{m}": v for m, v in metrics.items()}
    return {k: float(v) for k, v in out.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def epoch_logger(
    log_dir: str | os.PathLike[str],
) -> tuple[Callable[[dict[str, Any]], None], Callable[[], None]]:
    """``(on_epoch, close)``: ``on_epoch(record)`` writes the record's scalars at step ``epoch``.

    The writer is made on the first call, so only the process that reports (rank 0) writes files.
    """
    writer: list[Any] = []

    def on_epoch(record: dict[str, Any]) -> None:
        if not writer:
            from torch.utils.tensorboard import SummaryWriter

            writer.append(SummaryWriter(log_dir=str(log_dir)))
        for tag, value in scalars(record).items():
            writer[0].add_scalar(tag, value, int(record["epoch"]))
        writer[0].flush()  # a run killed later keeps every finished epoch's scalars

    def close() -> None:
        if writer:
            writer[0].close()

    return on_epoch, close


__all__ = ["INSTALL_HINT", "epoch_logger", "require_tensorboard", "scalars"]
