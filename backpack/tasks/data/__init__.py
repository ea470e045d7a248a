"""Deprecated: Ego4D-format data moved to :mod:`backpack.data`. The old names keep working, with a
``DeprecationWarning``, until 0.3.
"""

from __future__ import annotations

from backpack._lazy import deprecated_getattr
from backpack.data import __all__ as _NAMES

__getattr__ = deprecated_getattr(__name__, {name: "backpack.data" for name in _NAMES}, removed_in="0.3")
