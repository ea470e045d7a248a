"""Atomic file writes and file hashing: the one implementation every writer of backpack uses.

A file is written to a temporary name in its own folder (``.tmp-<name>.<random>``, a name every
reader and lister skips) and then renamed into place, so a reader sees the old file or the new
one, never a part. Standard library only (the store and the data loader use it without torch).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

TMP_MARK = ".tmp-"


def temp_path_for(path: Path) -> Path:
    """A fresh temporary name beside ``path`` (its folder is created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f"{TMP_MARK}{path.name}.{uuid.uuid4().hex}")


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | Callable[[BinaryIO], Any],
    *,
    durable: bool = True,
    exclusive: bool = False,
) -> None:
    """Write ``data`` (bytes, or a function writing to a binary file) to ``path`` atomically.

    Parameters
    ----------
    durable
        fsync the file before it becomes visible, so that it is not empty after a power loss
        (checkpoints, cached features, a store's commit record). The store's chunk writes pass
        False: their groups are fsynced once, when the version is flushed.
    exclusive
        Make the file visible with a hard link instead of a rename: ``FileExistsError`` when
        ``path`` exists already (the exclusive create a version's commit relies on).
    """
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        with open(tmp, "xb") as fh:
            if isinstance(data, bytes | bytearray | memoryview):
                fh.write(data)
            else:
                data(fh)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically (and durably) write ``obj`` as indented JSON; NaN and inf are refused."""
    atomic_write(path, (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode())


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["TMP_MARK", "atomic_write", "atomic_write_json", "sha256_file", "temp_path_for"]
