"""Deprecated: the multi-task model moved to :mod:`backpack.models`, training, evaluation, run folders
and checkpoints to :mod:`backpack.pipeline`. The old names keep working, with a
``DeprecationWarning``, until 0.3.
"""

from __future__ import annotations

from backpack import models, pipeline
from backpack._lazy import deprecated_getattr

_OLD_NAMES = (
    "MultiTaskModel", "build_model", "RunConfig", "Run", "load_run", "save_checkpoint", "load_checkpoint",
    "fit", "evaluate_model", "evaluate_run", "train_run",
)  # fmt: skip
_HOMES = {**models._LAZY, **pipeline._LAZY}

__getattr__ = deprecated_getattr(__name__, {n: _HOMES[n] for n in _OLD_NAMES}, removed_in="0.3")
