"""Lazy package exports: a name is imported from its module on first access (PEP 562).

The model-side packages re-export their public API without importing torch (or each other) when
the package itself is imported; each declares ``{name: module}`` and uses :func:`lazy_getattr`.
Packages that were renamed keep serving their old names for one release through
:func:`deprecated_getattr`, which warns where the name now lives.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` serving the names of ``table`` {name: module}."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__


def deprecated_getattr(package: str, table: Mapping[str, str], removed_in: str) -> Callable[[str], Any]:
    """Like :func:`lazy_getattr`, with a ``DeprecationWarning`` naming the new home of each name."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        warnings.warn(
            f"{package}.{name} moved to {module}.{name}; the old name will be removed in backpack "
            f"{removed_in}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), name)

    return __getattr__


__all__ = ["deprecated_getattr", "lazy_getattr"]
