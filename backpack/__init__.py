"""backpack: a standalone, versioned store of task prototypes and a novel-task learner (EgoPack).

``import backpack`` (and ``backpack.store``) needs only numpy, zarr and faiss: the model side
(``backpack.backbone``, ``backpack.tasks``, ``backpack.training``, ``backpack.learner``) imports
torch when you import it.
"""

from __future__ import annotations

from backpack import errors
from backpack.errors import BackpackError
from backpack.store import Backpack, Manifest, TaskView, diff, export_bundle, import_bundle

__version__ = "0.1.0"

__all__ = [
    "BackpackError",
    "errors",
    "__version__",
    # store (issue 2)
    "Backpack",
    "Manifest",
    "TaskView",
    "diff",
    "export_bundle",
    "import_bundle",
]
