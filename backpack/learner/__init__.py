"""Deprecated: the learner's nn modules moved to :mod:`backpack.models`, its workflows to
:mod:`backpack.pipeline`. The old names keep working, with a ``DeprecationWarning``, until 0.3.
"""

from __future__ import annotations

from backpack._lazy import deprecated_getattr

_MOVED = {
    "PrototypeAccumulator": "backpack.models.accumulator",
    "CrossTaskInteraction": "backpack.models.interaction",
    "PrototypeRefinement": "backpack.models.interaction_layer",
    "NovelTaskModel": "backpack.models.novel",
    "build_prototypes": "backpack.pipeline.build",
    "learn_novel_task": "backpack.pipeline.learn",
    "LearnConfig": "backpack.pipeline.learner_runs",
    "evaluate_learner_run": "backpack.pipeline.learn",
    "load_learner_run": "backpack.pipeline.learn",
    "explain_run": "backpack.pipeline.explain",
    "run_demo": "backpack.pipeline.demo",
    "DemoConfig": "backpack.pipeline.demo",
    "probe_store": "backpack.pipeline.probe",
    "retrieval_hits": "backpack.pipeline.probe",
}

__getattr__ = deprecated_getattr(__name__, _MOVED, removed_in="0.3")
