"""Multi-task training, evaluation, run folders and checkpoints.

Names are imported lazily so that ``import backpack.training.run`` (used by the CLI to check a run
folder) stays light.
"""

from __future__ import annotations

from backpack._lazy import lazy_getattr

_LAZY = {
    "MultiTaskModel": "backpack.training.model",
    "build_model": "backpack.training.model",
    "RunConfig": "backpack.training.run",
    "Run": "backpack.training.run",
    "load_run": "backpack.training.run",
    "save_checkpoint": "backpack.training.checkpoint",
    "load_checkpoint": "backpack.training.checkpoint",
    "fit": "backpack.training.trainer",
    "evaluate_model": "backpack.training.evaluate",
    "evaluate_run": "backpack.training.evaluate",
    "train_run": "backpack.training.api",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)
