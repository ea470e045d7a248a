"""backpack: a standalone, versioned store of task prototypes and a novel-task learner (EgoPack).

``import backpack`` (and ``backpack.store``, ``backpack.data``) needs only numpy, zarr and faiss:
the model side (``backpack.backbone``, ``backpack.tasks``, ``backpack.models``, ``backpack.pipeline``)
imports torch when you import it, and so do the lazily exported ``backpack.train_run``,
``build_prototypes``, ``learn_novel_task``, ``load_run`` and ``CrossTaskInteraction``.
"""

from __future__ import annotations

from backpack import errors
from backpack._lazy import lazy_getattr
from backpack.errors import BackpackError
from backpack.store import Backpack, Manifest, TaskView, diff, export_bundle, import_bundle

__version__ = "0.2.0"

# The model side, imported (with torch) on first use only.
_LAZY = {
    "train_run": "backpack.pipeline.train",
    "build_prototypes": "backpack.pipeline.build",
    "learn_novel_task": "backpack.pipeline.learn",
    "LearnConfig": "backpack.pipeline.learner_runs",
    "load_run": "backpack.pipeline.runs",
    "CrossTaskInteraction": "backpack.models.interaction",
}
__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "BackpackError",
    "errors",
    "__version__",
    # the store (numpy, zarr, faiss only)
    "Backpack",
    "Manifest",
    "TaskView",
    "diff",
    "export_bundle",
    "import_bundle",
    *_LAZY,
]
