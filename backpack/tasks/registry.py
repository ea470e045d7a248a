"""Task registry: tasks are looked up by name (``get_task("ar")``), timm style.

A leaf module: it imports no task. Each task module registers its class with :func:`register_task`
when imported; the built-in ones are imported by name on the first look-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, TypeVar

from backpack.errors import ConfigError

if TYPE_CHECKING:
    from backpack.tasks.base import Task

T = TypeVar("T", bound=type)
BUILTIN_TASK_MODULES = ("backpack.tasks.ar", "backpack.tasks.lta", "backpack.tasks.oscc", "backpack.tasks.pnr")

_REGISTRY: dict[str, type[Task]] = {}
_INSTANCES: dict[str, Task] = {}


def register_task(cls: T) -> T:
    """Class decorator: register ``cls`` under ``cls.name``."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ConfigError(f"Task name {name!r} is already registered by {_REGISTRY[name].__name__}.")
    _REGISTRY[name] = cls
    return cls


def _load_builtin() -> None:
    for module in BUILTIN_TASK_MODULES:  # importing a module runs its @register_task decorator
        importlib.import_module(module)


def list_tasks() -> list[str]:
    """Names of every registered task, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """The (shared, stateless) task registered as ``name``.

    Raises
    ------
    ConfigError
        For an unknown name; the message lists the known ones.
    """
    _load_builtin()
    if name not in _REGISTRY:
        raise ConfigError(f"Unknown task {name!r}. Expected one of: {', '.join(sorted(_REGISTRY))}.")
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def parse_tasks(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"ar,lta"`` or ``["ar", "lta"]`` -> validated, de-duplicated names in the given order."""
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    names = [n for n in names if n]
    if not names:
        raise ConfigError(f"No task given. Expected a comma-separated list of: {', '.join(list_tasks())}.")
    out: list[str] = []
    for n in names:
        get_task(n)
        if n not in out:
            out.append(n)
    return out
