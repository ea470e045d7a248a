"""The versioned Zarr+FAISS prototype store (format: docs/store-format.md).

Imports only numpy, zarr, numcodecs and faiss; torch is imported only when a caller passes
torch tensors.

Examples
--------
>>> from backpack.store import Backpack                                  # doctest: +SKIP
>>> bp = Backpack.create("store/", verbs=["take"], nouns=["cup", "knife"])
>>> with bp.new_version(message="first") as v:
...     v.add_task("ar", prototypes, keys, support)
>>> scores, ids = Backpack.open("store/").task("ar").search(queries, k=4)
"""

from __future__ import annotations

from backpack.store.backends.base import Backend, open_backend, register_backend
from backpack.store.bundle import export_bundle, import_bundle
from backpack.store.diff import StoreDiff, TaskDiff, diff
from backpack.store.manifest import ArrayEntry, IndexSpec, Manifest, Provenance, TaskEntry
from backpack.store.store import Backpack
from backpack.store.taskview import TaskView
from backpack.store.transaction import VersionWriter

__all__ = [
    "ArrayEntry",
    "Backend",
    "Backpack",
    "IndexSpec",
    "Manifest",
    "Provenance",
    "StoreDiff",
    "TaskDiff",
    "TaskEntry",
    "TaskView",
    "VersionWriter",
    "diff",
    "export_bundle",
    "import_bundle",
    "open_backend",
    "register_backend",
]
