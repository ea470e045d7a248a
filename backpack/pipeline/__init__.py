"""Workflows over run folders and stores: train, evaluate, build, learn, explain, probe, demo.

Names are imported lazily so that ``import backpack.pipeline.runs`` (used by the CLI to check a run
folder) stays light.
"""

from __future__ import annotations

from backpack._lazy import lazy_getattr

_LAZY = {
    "RunConfig": "backpack.pipeline.runs",
    "Run": "backpack.pipeline.runs",
    "load_run": "backpack.pipeline.runs",
    "save_checkpoint": "backpack.pipeline.checkpoint",
    "load_checkpoint": "backpack.pipeline.checkpoint",
    "fit": "backpack.pipeline.trainer",
    "evaluate_model": "backpack.pipeline.evaluate",
    "evaluate_run": "backpack.pipeline.evaluate",
    "train_run": "backpack.pipeline.train",
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

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
