"""Fault injection at the file-system boundary: a byte budget (ENOSPC) or SIGKILL at the n-th write.

Every local write of the store goes through ``open`` (``io.open``/``builtins.open``, which
``pathlib`` also uses) followed by ``os.replace`` or ``os.link``. :class:`FaultyDisk` wraps those
for paths under one root only, counting *operations* (an open for writing, a rename, a link) so
that a test can stop the writer exactly before any one of them, or charge written bytes against
a budget and fail like a full disk (a partial write, then ``OSError(ENOSPC)``).
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import signal
from pathlib import Path
from typing import Any


class _BudgetFile:
    """A writable file whose writes draw from the disk's byte budget."""

    def __init__(self, raw: Any, disk: FaultyDisk, name: str) -> None:
        self._raw, self._disk, self._name = raw, disk, name

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        allowed = self._disk.take(len(view))
        if allowed < len(view):
            self._raw.write(view[:allowed])  # a full disk accepts what still fits
            self._raw.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._name)
        return self._raw.write(view)

    def __enter__(self) -> _BudgetFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._raw.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class FaultyDisk:
    """Patch the process so writes under ``root`` fail (``budget``) or kill it (``kill_at``).

    Parameters
    ----------
    root : path
        Only paths under it are affected.
    budget : int, optional
        Bytes that may still be written; then every write fails with ENOSPC.
    kill_at : int, optional
        SIGKILL this process just before write operation number ``kill_at`` (1-based).
    """

    def __init__(self, root: str | Path, budget: int | None = None, kill_at: int | None = None) -> None:
        self.root = str(Path(root).resolve())
        self.budget = budget
        self.kill_at = kill_at
        self.ops: list[str] = []
        self._saved: dict[str, Any] = {}

    def _mine(self, path: Any) -> bool:
        try:
            return os.path.abspath(os.fspath(path)).startswith(self.root)
        except TypeError:  # a file descriptor
            return False

    def take(self, n: int) -> int:
        if self.budget is None:
            return n
        allowed = max(0, min(n, self.budget))
        self.budget -= allowed
        return allowed

    def _op(self, what: str) -> None:
        self.ops.append(what)
        if self.kill_at is not None and len(self.ops) >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def _open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = self._saved["open"](file, mode, *args, **kwargs)
        if any(c in mode for c in "wax+") and self._mine(file):
            self._op(f"open {os.path.relpath(os.fspath(file), self.root)}")
            if self.budget is not None:
                return _BudgetFile(f, self, os.fspath(file))
        return f

    def _rename(self, name: str) -> Any:
        original = self._saved[name]

        def wrapped(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if self._mine(dst):
                self._op(f"{name} {os.path.relpath(os.fspath(dst), self.root)}")
            return original(src, dst, *args, **kwargs)

        return wrapped

    def __enter__(self) -> FaultyDisk:
        self._saved = {"open": io.open, "replace": os.replace, "link": os.link, "rename": os.rename}
        io.open = builtins.open = self._open  # type: ignore[assignment]
        os.replace, os.link, os.rename = (self._rename(n) for n in ("replace", "link", "rename"))
        return self

    def __exit__(self, *exc: object) -> None:
        io.open = builtins.open = self._saved["open"]
        os.replace, os.link, os.rename = self._saved["replace"], self._saved["link"], self._saved["rename"]
