"""EgoPack's novel-task learner: prototype building, cross-task interaction (eq. 3), explain plots.

The interaction layer and module need only torch (and a store to search); the rest (building,
the novel-task model, learning, demo) is imported lazily because it needs the training side.
"""

from __future__ import annotations

from backpack._lazy import lazy_getattr
from backpack.learner.accumulator import PrototypeAccumulator
from backpack.learner.interaction import CrossTaskInteraction
from backpack.learner.interaction_layer import PrototypeRefinement

_LAZY = {
    "build_prototypes": "backpack.learner.build",
    "NovelTaskModel": "backpack.learner.model",
    "learn_novel_task": "backpack.learner.learn",
    "LearnConfig": "backpack.learner.learn",
    "evaluate_learner_run": "backpack.learner.learn",
    "load_learner_run": "backpack.learner.learn",
    "explain_run": "backpack.learner.explain",
    "run_demo": "backpack.learner.demo",
    "probe_store": "backpack.learner.probe",
    "retrieval_hits": "backpack.learner.probe",
}


__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["CrossTaskInteraction", "PrototypeAccumulator", "PrototypeRefinement", *_LAZY]
