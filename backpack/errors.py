"""Every error backpack raises on purpose.

The root, :class:`BackpackError`, subclasses ``ValueError`` so that callers that only know
"bad input" still catch it; not-found errors are also ``KeyError`` and ``FileNotFoundError``.
Messages name the what and where, then the expected and the found value, e.g.
``Invalid value for 'dim' in task 'ar'. Expected 256. Got 255.``
"""

from __future__ import annotations


class BackpackError(ValueError):
    """Root of every error raised on purpose by backpack."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class NotFoundError(BackpackError, KeyError, FileNotFoundError):
    """A store, version, tag, task, file or run that does not exist."""


class StoreError(BackpackError):
    """A store that cannot be read or written as asked."""


class NotAStoreError(StoreError, NotFoundError):
    """A path that holds no backpack store."""


class FormatVersionError(StoreError):
    """A store written by a newer (or unknown) format version."""


class ReadOnlyError(StoreError, PermissionError):
    """A write through a read-only handle."""


class ConflictError(StoreError):
    """Another writer took the name (version number or tag) first."""


class StaleParentError(ConflictError):
    """A version built on a parent that is no longer the latest (its publish would lose updates)."""


class IntegrityError(StoreError):
    """Stored bytes whose checksum does not match the manifest."""


class BundleError(StoreError):
    """A zip bundle that is truncated, unsafe or not a backpack bundle."""


class DataError(BackpackError):
    """Bad annotations or feature files."""


class ConfigError(BackpackError):
    """Bad model, task or run configuration."""


class RunError(BackpackError):
    """A run folder that is missing, incomplete or from an incompatible version."""


def invalid(field: str, where: str, expected: object, got: object) -> str:
    """Format the house message ``Invalid value for 'F' in W. Expected E. Got G.``"""
    return f"Invalid value for {field!r} in {where}. Expected {expected}. Got {got}."


class CheckError(BackpackError):
    """A check that failed on good input (e.g. a prediction file that misses a clip): CLI exit code 1."""


# errnos of a write that the environment refused (full disk, quota, ulimit -f, read-only mount)
WRITE_ERRNOS = frozenset({"ENOSPC", "EDQUOT", "EFBIG", "EROFS", "EIO", "EACCES", "EPERM"})


def os_error_message(exc: OSError) -> str:
    """One line for an ``OSError``: the path, what the errno means and its name, e.g.
    ``Cannot write '/s/data/x': No space left on device (ENOSPC).``"""
    import errno
    import os

    name = errno.errorcode.get(exc.errno or -1)
    if name is None:
        return f"{type(exc).__name__}: {exc}"
    path = exc.filename if exc.filename is not None else "a file"
    verb = "write" if name in WRITE_ERRNOS else "access"
    return f"Cannot {verb} {str(path)!r}: {os.strerror(exc.errno or 0)} ({name})."
