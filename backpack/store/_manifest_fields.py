"""Checked reads of manifest fields, and the content checksum of a metadata object.

Every field of a manifest is read through these, so a wrong type, an
out-of-range number or an oversized list is one :class:`~backpack.errors.StoreError` naming the
field and the file before anything is allocated.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from backpack.errors import StoreError, invalid
from backpack.store._format import MAX_VOCABULARY

__all__ = ["bounded_int", "content_sha256", "get_field", "vocab_list"]


def get_field(
    d: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str, optional: bool = False
) -> Any:
    """``d[name]`` if it is of type ``kind`` (bool is not an int); a missing or wrong field is a
    :class:`~backpack.errors.StoreError` naming it and ``where``."""
    if name not in d:
        if optional:
            return None
        raise StoreError(f"Missing field {name!r} in {where}.")
    value = d[name]
    if value is None and optional:
        return None
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise StoreError(invalid(name, where, expected, repr(value)[:80]))
    return value


def bounded_int(d: dict[str, Any], name: str, where: str, lo: int, hi: int) -> int:
    """An int field within ``lo..hi`` (a flipped bit or a hostile huge value is refused)."""
    value = get_field(d, name, int, where)
    if not lo <= value <= hi:
        raise StoreError(invalid(name, where, f"{lo} <= {name} <= {hi}", value))
    return value


def content_sha256(obj: dict[str, Any]) -> str:
    """sha256 of a metadata object's canonical JSON (sorted keys, no spaces): independent of how
    the file was indented, so only a change of content changes it."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def vocab_list(vocab: dict[str, Any], key: str, where: str) -> list[str]:
    """A vocabulary list: at most MAX_VOCABULARY strings."""
    values = get_field(vocab, key, list, f"{where}, vocabulary")
    if len(values) > MAX_VOCABULARY or not all(isinstance(v, str) for v in values):
        raise StoreError(
            invalid(key, f"{where}, vocabulary", f"at most {MAX_VOCABULARY} strings", f"{len(values)} items")
        )
    return values
