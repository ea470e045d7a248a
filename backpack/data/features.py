"""Reading feature files (``.pt`` / ``.npy``) and caching them as memory-mapped float32 ``.npy``.

A ``.pt`` file is read once (``torch.load(weights_only=True)``, torch imported lazily), checked,
converted to float32 and written to the cache under a name keyed by the source's (path, size,
mtime_ns): re-reading never touches the ``.pt`` again, and a changed source gets a new entry.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from backpack._io import atomic_write
from backpack.errors import DataError

FEATURE_SUFFIXES = (".pt", ".npy")


def _bad(path: Path, what: str) -> DataError:
    return DataError(f"Invalid feature file {str(path)!r}: {what}")


def _load_pt(path: Path) -> np.ndarray:
    import torch  # only needed for .pt sources

    from backpack.data._pt import check_pt_sizes

    check_pt_sizes(path)  # sizes vs bytes present, before torch makes a tensor
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, not a torch file: all unreadable
        raise _bad(path, f"cannot be read by torch.load ({type(exc).__name__}: {exc}).") from None
    if not isinstance(obj, torch.Tensor):
        raise _bad(path, f"expected a float tensor [T, D]. Got {type(obj).__name__}.")
    if not obj.is_floating_point():
        raise _bad(path, f"expected a float tensor. Got dtype {obj.dtype}.")
    return obj.detach().to(torch.float32).numpy()


def _load_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise _bad(path, f"cannot be read by numpy.load ({type(exc).__name__}: {exc}).") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
        raise _bad(path, f"expected a float array. Got dtype {getattr(arr, 'dtype', type(arr).__name__)}.")
    return arr


def read_feature_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Read and check one feature file; return float32 ``[T, D]`` (T >= 1, D >= 1, all finite).

    Raises
    ------
    DataError
        Naming the file, when it is unreadable (truncated, empty, not a tensor), not floating point,
        not of rank 2, of zero length, or holds NaN or infinite values.
    """
    path = Path(path)
    if path.suffix not in FEATURE_SUFFIXES:
        raise _bad(path, f"expected a file ending in {' or '.join(FEATURE_SUFFIXES)}.")
    arr = _load_pt(path) if path.suffix == ".pt" else _load_npy(path)
    if arr.ndim != 2:
        raise _bad(path, f"expected rank 2 [T, D]. Got shape {tuple(arr.shape)}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise _bad(path, f"expected at least one step and one channel. Got shape {tuple(arr.shape)}.")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise _bad(path, f"expected finite values. Got NaN or inf in {bad} of {arr.shape[0]} steps.")
    return arr


def source_key(path: Path) -> str:
    """Cache key of a source file: a hash of its resolved path, size and mtime_ns."""
    st = path.stat()
    text = f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


class FeatureCache:
    """Float32 ``.npy`` copies of feature files, read back memory-mapped.

    Parameters
    ----------
    cache_dir
        Folder of the cache (created when missing).
    """

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.cache_dir = Path(cache_dir)
        self.conversions = 0  # how many sources were read and converted (a cache miss each)

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.cache_dir)!r})"

    def entry(self, source: Path) -> Path:
        """The cache file of ``source`` (which need not exist yet)."""
        return self.cache_dir / f"{source.stem}.{source_key(source)}.npy"

    def load(self, source: str | os.PathLike[str]) -> np.ndarray:
        """Return the features of ``source`` as a read-only float32 memory map, converting once.

        A cache entry that cannot be read back (damaged after it was written) is rebuilt.
        """
        source = Path(source)
        dest = self.entry(source)
        from backpack.data._cache_seal import seal_holds

        if not dest.exists() or not seal_holds(dest):  # missing, or changed since it was built
            self._convert(source, dest)
        arr = self._open(dest)
        if arr is None:
            dest.unlink(missing_ok=True)
            self._convert(source, dest)
            arr = self._open(dest)
            if arr is None:
                raise DataError(f"Cannot read back the cache file {str(dest)!r} just written.")
        return arr

    @staticmethod
    def _open(dest: Path) -> np.ndarray | None:
        try:
            arr = np.load(dest, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        ok = isinstance(arr, np.ndarray) and arr.dtype == np.float32 and arr.ndim == 2 and arr.size > 0
        return arr if ok else None

    def _convert(self, source: Path, dest: Path) -> None:
        arr = read_feature_file(source)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(dest, lambda fh: np.save(fh, arr, allow_pickle=False))
            from backpack.data._cache_seal import write_seal

            write_seal(dest)
        except OSError as exc:
            raise DataError(
                f"Cannot write the feature cache {str(self.cache_dir)!r} ({exc.strerror or exc}). "
                "Pass a writable cache_dir."
            ) from None
        self.conversions += 1
