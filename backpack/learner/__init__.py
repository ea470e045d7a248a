"""Deprecated: the learner's nn modules moved to :mod:`backpack.models`, its workflows to
:mod:`backpack.pipeline`. The old names keep working, with a ``DeprecationWarning``, until 0.3.
"""

from __future__ import annotations

from backpack import models, pipeline
from backpack._lazy import deprecated_getattr

_OLD_NAMES = (
    "PrototypeAccumulator", "CrossTaskInteraction", "PrototypeRefinement", "NovelTaskModel",
    "build_prototypes", "learn_novel_task", "LearnConfig", "evaluate_learner_run", "load_learner_run",
    "explain_run", "run_demo", "DemoConfig", "probe_store", "retrieval_hits",
)  # fmt: skip
_HOMES = {**models._LAZY, **pipeline._LAZY}

__getattr__ = deprecated_getattr(__name__, {n: _HOMES[n] for n in _OLD_NAMES}, removed_in="0.3")
