"""Deprecated: the multi-task model moved to :mod:`backpack.models`, training, evaluation, run folders
and checkpoints to :mod:`backpack.pipeline`. The old names keep working, with a
``DeprecationWarning``, until 0.3.
"""

from __future__ import annotations

from backpack._lazy import deprecated_getattr

_MOVED = {
    "MultiTaskModel": "backpack.models.multitask",
    "build_model": "backpack.models.multitask",
    "RunConfig": "backpack.pipeline.runs",
    "Run": "backpack.pipeline.runs",
    "load_run": "backpack.pipeline.runs",
    "save_checkpoint": "backpack.pipeline.checkpoint",
    "load_checkpoint": "backpack.pipeline.checkpoint",
    "fit": "backpack.pipeline.trainer",
    "evaluate_model": "backpack.pipeline.evaluate",
    "evaluate_run": "backpack.pipeline.evaluate",
    "train_run": "backpack.pipeline.train",
}

__getattr__ = deprecated_getattr(__name__, _MOVED, removed_in="0.3")
