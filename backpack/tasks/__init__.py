"""The four Ego4D tasks as temporal graphs: builders, heads, losses, metrics and a registry.

``backpack.data`` (loading, feature cache, synthetic data) must stay importable without the
model code, so the names below are imported lazily on first access.
"""

from __future__ import annotations

from backpack._lazy import lazy_getattr

__all__ = ["Task", "TaskHead", "get_task", "list_tasks", "register_task", "build_head"]

_LAZY = {
    "Task": "backpack.tasks.base",
    "TaskHead": "backpack.tasks.heads",
    "build_head": "backpack.tasks.heads",
    "get_task": "backpack.tasks.registry",
    "list_tasks": "backpack.tasks.registry",
    "register_task": "backpack.tasks.registry",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
