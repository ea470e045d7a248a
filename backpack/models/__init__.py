"""The nn modules: multi-task model, novel-task model, cross-task interaction (eq. 3), k-NN, accumulator.

Nothing here reads or writes files or knows about run folders (that is :mod:`backpack.pipeline`);
names are imported lazily so that importing the package does not import torch.
"""

from __future__ import annotations

from backpack._lazy import lazy_getattr

_LAZY = {
    "MultiTaskModel": "backpack.models.multitask",
    "build_model": "backpack.models.multitask",
    "NovelTaskModel": "backpack.models.novel",
    "CrossTaskInteraction": "backpack.models.interaction",
    "PrototypeRefinement": "backpack.models.interaction_layer",
    "PrototypeAccumulator": "backpack.models.accumulator",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
