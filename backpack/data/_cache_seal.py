"""A seal beside each feature-cache file, so that a cache file changed after it was built (NaN
written into it, a truncation, another file copied over it) is noticed before it is used.

The seal (``<file>.seal``, JSON) records the file's sha256, size and mtime. Every use compares
size and mtime (one ``stat``); the first use of a file in a process also compares the sha256
(one sequential read, like the conversion that built it), so an edit that restored the mtime
is caught as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

_VERIFIED: set[tuple[str, int, int, int]] = set()  # (path, size, mtime_ns, inode) hashed this process
_BLOCK = 8 * 2**20


def seal_path(dest: Path) -> Path:
    """Where the seal of cache file ``dest`` lives."""
    return dest.with_name(dest.name + ".seal")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def write_seal(dest: Path) -> None:
    """Seal the freshly written cache file ``dest`` (atomic replace of the seal)."""
    st = dest.stat()
    record = {"sha256": _sha256(dest), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".seal.tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.replace(tmp, seal_path(dest))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _VERIFIED.add((str(dest), st.st_size, st.st_mtime_ns, st.st_ino))


def seal_holds(dest: Path) -> bool:
    """Whether ``dest`` is unchanged since it was sealed (no seal, or any doubt: ``False``)."""
    from backpack import safe_json

    try:
        st = dest.stat()
        record = safe_json.load_file(seal_path(dest))
    except (OSError, ValueError):  # BackpackError is a ValueError
        return False
    if (
        not isinstance(record, dict)
        or record.get("size") != st.st_size
        or record.get("mtime_ns") != st.st_mtime_ns
    ):
        return False
    key = (str(dest), st.st_size, st.st_mtime_ns, st.st_ino)
    if key in _VERIFIED:
        return True
    try:
        ok = _sha256(dest) == record.get("sha256")
    except OSError:
        return False
    if ok:
        _VERIFIED.add(key)
    return ok
