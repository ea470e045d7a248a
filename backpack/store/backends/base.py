"""The key/value backend a store lives on: a local directory, a zip bundle or ``s3://``.

zarr-python style: one abstract class with capability properties. Keys are ``/``-separated
relative paths (``versions/00000001.json``); values are bytes. The store logic above this layer
only needs whole-object reads, atomic replaces, one *exclusive create* (the commit point of a
version) and prefix listing, which every object store and every POSIX file system offers.

Adding a backend: subclass :class:`Backend`, then ``register_backend(scheme, factory)``.
"""

from __future__ import annotations

import abc
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backpack.errors import BackpackError, ReadOnlyError, invalid

if TYPE_CHECKING:
    from zarr.abc.store import Store as ZarrStore

__all__ = ["Backend", "open_backend", "register_backend", "check_key"]

_BAD_KEY = re.compile(r"(^/)|(^|/)\.\.?(/|$)|\\|//")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key (no leading ``/``, no ``..``), else raise."""
    if not isinstance(key, str) or not key or _BAD_KEY.search(key) or "\x00" in key:
        raise BackpackError(invalid("key", "the store", "a relative key without '..'", repr(key)))
    return key


class Backend(abc.ABC):
    """Abstract key/value storage under one root (a directory, a zip file, an S3 prefix).

    Parameters
    ----------
    url : str
        Where the store lives, as given by the user (used in messages).
    read_only : bool
        Refuse every write with :class:`~backpack.errors.ReadOnlyError`.
    """

    def __init__(self, url: str, read_only: bool) -> None:
        self.url = url
        self.read_only = read_only

    # -- capabilities -------------------------------------------------------------------------
    @property
    def supports_writes(self) -> bool:
        """Whether :meth:`write` and :meth:`create_exclusive` may work (ignoring ``read_only``)."""
        return True

    @property
    def supports_deletes(self) -> bool:
        """Whether :meth:`delete` works (a zip bundle cannot delete)."""
        return True

    # -- key/value operations -----------------------------------------------------------------
    @abc.abstractmethod
    def read(self, key: str) -> bytes:
        """Return the bytes of ``key``; raise :class:`~backpack.errors.NotFoundError` if absent."""

    @abc.abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key``, atomically replacing any old value (readers see old or new)."""

    @abc.abstractmethod
    def create_exclusive(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` only if ``key`` does not exist, atomically.

        Raises
        ------
        ConflictError
            If ``key`` exists (another writer won). Nothing is changed then.
        """

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """All keys starting with ``prefix`` (recursively), sorted, as full keys."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""
        from backpack.errors import NotFoundError

        try:
            self.read(key)
        except NotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        """Stored size of ``key`` in bytes (subclasses override with a cheap stat)."""
        return len(self.read(key))

    def modified(self, key: str) -> float | None:
        """When ``key`` was last written (seconds since the epoch), or ``None`` when unknown."""
        return None

    def disk_usage(self, prefix: str) -> int:
        """Total stored bytes of every key under ``prefix``."""
        return sum(self.size(k) for k in self.list(prefix))

    def stat_all(self, prefix: str) -> dict[str, tuple[int, float | None]]:
        """``{key: (bytes, modified)}`` for every key under ``prefix`` (object stores answer it
        with one listing instead of a request per key)."""
        return {k: (self.size(k), self.modified(k)) for k in self.list(prefix)}

    def leftovers(self) -> list[tuple[str, str, int, float]]:
        """What killed writers left that :meth:`list` never shows: ``(key, kind, bytes, modified)``.

        Local directories have temp files (``.tmp-*``) and an import's unpack folder next to the
        store; an object store's writes are whole PUTs, so the default is none.
        """
        return []

    def remove_leftover(self, key: str) -> None:
        """Delete one entry :meth:`leftovers` listed (garbage collection)."""
        self._check_writable(f"remove {key!r}")
        raise BackpackError(f"Store {self.url!r} has no leftover {key!r} to remove.")

    def zarr_store(self, prefix: str, read_only: bool) -> ZarrStore:
        """A zarr store rooted at ``prefix``; the default adapts :meth:`read`/:meth:`write`."""
        from backpack.store._zarr_adapter import BackendZarrStore

        return BackendZarrStore(self, prefix, read_only=read_only or self.read_only)

    def flush(self, prefix: str) -> None:  # noqa: B027 (optional hook, not abstract)
        """Make every key under ``prefix`` durable before a manifest refers to it (default: no-op,
        object stores acknowledge a PUT only once it is durable)."""

    def local_path(self) -> Path | None:
        """The directory holding the keys when they are plain local files, else ``None``."""
        return None

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release files or connections (idempotent)."""

    # -- helpers for subclasses ---------------------------------------------------------------
    def _check_writable(self, what: str) -> None:
        if self.read_only or not self.supports_writes:
            if not self.supports_writes:  # a zip bundle: no mode makes it writable
                raise ReadOnlyError(
                    f"Cannot {what} in store {self.url!r}: it is a read-only bundle. "
                    "Use import_bundle() to unpack it into a directory, then write there."
                )
            raise ReadOnlyError(
                f"Cannot {what} in store {self.url!r}: it was opened through a read-only handle. "
                "Open it with mode='a' to publish."
            )

    def __repr__(self) -> str:
        mode = "r" if self.read_only else "a"
        return f"{type(self).__name__}({self.url!r}, mode={mode!r})"

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


BackendFactory = Callable[[str, bool, "dict[str, Any] | None"], Backend]

# scheme -> "module:Class" (imported lazily: s3fs is optional) or a factory.
_REGISTRY: dict[str, str | BackendFactory] = {
    "file": "backpack.store.backends.local:LocalBackend",
    "zip": "backpack.store.backends.zip:ZipBackend",
    "s3": "backpack.store.backends.s3:S3Backend",
}


def register_backend(scheme: str, factory: str | BackendFactory) -> None:
    """Register a backend for URLs ``scheme://...`` (``"module:Class"`` or a callable)."""
    _REGISTRY[scheme] = factory


def _scheme_of(url: str) -> str:
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", url)
    if m:
        return m.group(1).lower()
    return "zip" if url.lower().endswith(".zip") else "file"


def open_backend(
    url_or_path: str | Path,
    mode: str = "r",
    storage_options: dict[str, Any] | None = None,
) -> Backend:
    """Open the backend for a local directory, a ``.zip`` bundle or an ``s3://bucket/prefix``.

    Parameters
    ----------
    url_or_path : str or Path
        ``path/to/dir``, ``file:///abs/dir``, ``bundle.zip`` or ``s3://bucket/prefix``.
    mode : {"r", "a"}
        ``"r"`` read-only, ``"a"`` read and write.
    storage_options : dict, optional
        Passed to the backend (e.g. ``endpoint_url`` for s3fs).

    Returns
    -------
    Backend
    """
    if mode not in ("r", "a"):
        raise BackpackError(invalid("mode", f"opening {str(url_or_path)!r}", "'r' or 'a'", repr(mode)))
    url = str(url_or_path)
    scheme = _scheme_of(url)
    target = _REGISTRY.get(scheme)
    if target is None:
        raise BackpackError(invalid("URL scheme", repr(url), f"one of {sorted(_REGISTRY)}", repr(scheme)))
    if isinstance(target, str):
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise BackpackError(
                f"Cannot open {url!r}: the {scheme!r} backend needs the package {exc.name!r}, "
                "which is not installed (for s3: pip install 'backpack[s3]')."
            ) from exc
        factory = getattr(module, attr)
    else:
        factory = target
    if scheme == "file" and url.startswith("file://"):
        url = url[len("file://") :]
    return factory(url, mode == "r", storage_options)
