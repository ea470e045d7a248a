"""A local read cache for arrays of remote stores (``s3://`` ...), keyed by their sha256.

Opening a remote store reads only JSON (root, version list, manifests); a task's arrays are
fetched on first use. Each fetched array is verified against the manifest's sha256 and saved as
``<root>/<sha[:2]>/<sha>.npy``: the key *is* the content, so an entry can never be stale, is
shared by every version, tag and store that holds the same bytes, and a second open of the store
costs no download. Entries are re-hashed when loaded (a damaged file is dropped and fetched
again) and written through a temp file + ``os.replace`` (concurrent processes are safe).

Where: ``$BACKPACK_CACHE_DIR``, else ``$XDG_CACHE_HOME/backpack/arrays``, else
``~/.cache/backpack/arrays``. ``BACKPACK_CACHE_DIR=off`` disables it. ``BACKPACK_CACHE_MAX_BYTES``
bounds its size (least recently used entries go first).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backpack._io import atomic_write
from backpack.store._arrays import read_array, sha256_of

if TYPE_CHECKING:
    from backpack.store.backends.base import Backend
    from backpack.store.manifest import ArrayEntry

CACHE_DIR_VAR = "BACKPACK_CACHE_DIR"
CACHE_MAX_VAR = "BACKPACK_CACHE_MAX_BYTES"
_OFF = ("off", "0", "none", "false")
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class CacheStats:
    """What a cache served since it was made: hits (no download), misses (downloads), bytes."""

    hits: int = 0
    misses: int = 0
    bytes_downloaded: int = 0


class ArrayCache:
    """Content-addressed ``.npy`` files under ``root``.

    Parameters
    ----------
    root : str or Path
        The cache folder (created on first write).
    max_bytes : int, optional
        After each write, least recently used entries are removed until the cache fits.
    """

    def __init__(self, root: str | os.PathLike[str], max_bytes: int | None = None) -> None:
        self.root = Path(root).expanduser()
        self.max_bytes = max_bytes
        self.stats = CacheStats()

    def path_of(self, sha256: str) -> Path:
        """Where the array with checksum ``sha256`` lives."""
        if not _SHA.match(sha256):
            raise ValueError(
                f"Invalid value for 'sha256' in the array cache. Expected 64 hex digits. Got {sha256!r}."
            )
        return self.root / sha256[:2] / f"{sha256}.npy"

    def get(self, entry: ArrayEntry) -> np.ndarray | None:
        """The cached array for ``entry`` (checked: shape, dtype, sha256), or ``None``."""
        path = self.path_of(entry.sha256)
        try:
            data = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # truncated or not a .npy: drop it, fetch again
            _unlink(path)
            return None
        if (
            tuple(data.shape) != tuple(entry.shape)
            or str(data.dtype) != entry.dtype
            or sha256_of(data) != entry.sha256
        ):
            _unlink(path)
            return None
        try:
            os.utime(path)  # recency for the LRU bound
        except OSError:
            pass
        return np.ascontiguousarray(data)

    def put(self, entry: ArrayEntry, data: np.ndarray) -> None:
        """Save ``data`` (already verified against ``entry``) atomically."""
        path = self.path_of(entry.sha256)
        # not durable: a lost cache file is fetched again, and its checksum is verified on read
        atomic_write(
            path, lambda fh: np.save(fh, np.ascontiguousarray(data), allow_pickle=False), durable=False
        )
        if self.max_bytes is not None:
            self.prune(self.max_bytes)

    def entries(self) -> list[Path]:
        """Every cached file."""
        return sorted(self.root.glob("??/*.npy")) if self.root.is_dir() else []

    def size_bytes(self) -> int:
        """Bytes the cache holds."""
        return sum(_size(p) for p in self.entries())

    def prune(self, max_bytes: int) -> int:
        """Remove least recently used entries until at most ``max_bytes`` remain; return bytes freed."""
        files = sorted(self.entries(), key=lambda p: _mtime(p))
        total, freed = sum(_size(p) for p in files), 0
        for p in files:
            if total - freed <= max_bytes:
                break
            freed += _size(p)
            _unlink(p)
        return freed

    def clear(self) -> None:
        """Remove every entry."""
        for p in self.entries():
            _unlink(p)

    def __repr__(self) -> str:
        return f"ArrayCache({str(self.root)!r}, hits={self.stats.hits}, misses={self.stats.misses})"


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


_CACHES: dict[tuple[str, int | None], ArrayCache] = {}


def default_cache() -> ArrayCache | None:
    """The cache named by the environment (one object per folder), or ``None`` when disabled."""
    setting = os.environ.get(CACHE_DIR_VAR)
    if setting is not None and setting.strip().lower() in _OFF:
        return None
    if setting:
        root = Path(setting)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / "backpack" / "arrays"
    raw = os.environ.get(CACHE_MAX_VAR)
    max_bytes = int(raw) if raw and raw.isdigit() else None
    key = (str(root.expanduser().resolve()), max_bytes)
    if key not in _CACHES:
        _CACHES[key] = ArrayCache(root, max_bytes)
    return _CACHES[key]


def is_remote(backend: Backend) -> bool:
    """Whether ``backend`` fetches over a network (``s3://`` ...): local files and zips are not cached."""
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", backend.url)
    return backend.local_path() is None and m is not None and m.group(1).lower() not in ("file", "zip")


def cached_read_array(
    backend: Backend, prefix: str, name: str, entry: ArrayEntry, where: str, cache: ArrayCache | None = None
) -> np.ndarray:
    """:func:`~backpack.store._arrays.read_array`, through the local cache for remote backends."""
    if not is_remote(backend):
        return read_array(backend, prefix, name, entry, where)
    cache = cache if cache is not None else default_cache()
    if cache is None:
        return read_array(backend, prefix, name, entry, where)
    data = cache.get(entry)
    if data is not None:
        cache.stats.hits += 1
        return data
    data = read_array(backend, prefix, name, entry, where)  # verified against the manifest's sha256
    cache.stats.misses += 1
    cache.stats.bytes_downloaded += int(data.nbytes)
    try:
        cache.put(entry, data)
    except OSError:  # a full or read-only cache folder must not break reading
        pass
    return data


__all__ = ["ArrayCache", "CacheStats", "cached_read_array", "default_cache", "is_remote"]
