"""Read access to one task of one version: arrays (verified lazily) and cosine search."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from backpack.store import _validate as val
from backpack.store._cache import cached_read_array
from backpack.store._index import BLAS_MIN_QD, blas_path, deserialize

if TYPE_CHECKING:
    from backpack.store.manifest import IndexSpec, TaskEntry
    from backpack.store.store import Backpack


class TaskView:
    """One task of a version. Arrays are read on first access and checked against the manifest.

    Shapes: prototypes [count, dim] float32, keys [count, 2] int32 (verb id, noun id),
    support [count] int64; ``search(queries [Q, dim], k)`` -> (scores [Q, k], ids [Q, k]).
    Returned arrays are read-only views of a cache.
    """

    def __init__(self, bp: Backpack, entry: TaskEntry, version: int | None) -> None:
        import zarr  # noqa: F401  -- every array read needs it; import once here, not mid-read

        self._bp = bp
        self.entry = entry
        self.version = version
        self._cache: dict[str, np.ndarray] = {}
        self._index: Any = None
        self._device_cache: dict[str, Any] = {}
        self._where = f"version {version}, task {entry.name!r} of store {bp.url!r}"

    # -- metadata -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Task name."""
        return self.entry.name

    @property
    def dim(self) -> int:
        """Prototype dimension D_k."""
        return self.entry.dim

    @property
    def count(self) -> int:
        """Number of prototypes P_k."""
        return self.entry.count

    @property
    def index_spec(self) -> IndexSpec:
        """Index type, parameters and measured recall (from the manifest)."""
        return self.entry.index

    @property
    def stored_bytes(self) -> int:
        """Bytes of this task's data on the backend (compressed size for a bundle)."""
        return self._bp.backend.disk_usage(self.entry.path.rstrip("/") + "/")

    # -- arrays -------------------------------------------------------------------------------
    def _array(self, name: str) -> np.ndarray:
        cached = self._cache.get(name)
        if cached is None:
            # Remote stores go through the local content-addressed cache (_cache.py); verified either way.
            cached = cached_read_array(
                self._bp.backend, self.entry.path, name, self.entry.arrays[name], self._where
            )
            cached.flags.writeable = False
            self._cache[name] = cached
        return cached

    @property
    def prototypes(self) -> np.ndarray:
        """float32 [count, dim], as stored (not normalised)."""
        return self._array("prototypes")

    @property
    def keys(self) -> np.ndarray:
        """int32 [count, 2]: (verb id, noun id) of each prototype."""
        return self._array("keys")

    @property
    def support(self) -> np.ndarray:
        """int64 [count]: how many samples each prototype averages."""
        return self._array("support")

    def key_names(self, ids: Any = None) -> list[tuple[str, str]]:
        """(verb, noun) names of prototypes ``ids`` (default: all), from the store's vocabulary."""
        keys = self.keys if ids is None else self.keys[np.asarray(val.to_numpy(ids), dtype=np.int64).ravel()]
        verbs, nouns = self._bp.verbs, self._bp.nouns
        return [(verbs[v], nouns[n]) for v, n in keys.tolist()]

    @property
    def index(self) -> Any:
        """The FAISS index; its bytes are checksum-verified before they are deserialised."""
        if self._index is None:
            data = self._array("index")
            self._index = deserialize(data, self.entry.index, self.dim, self.count, self._where)
            self._cache.pop("index", None)  # the index holds its own copy
        return self._index

    # -- search -------------------------------------------------------------------------------
    def search(self, queries: Any, k: int = 4) -> tuple[Any, Any]:
        """The ``k`` most cosine-similar prototypes of each query.

        Parameters
        ----------
        queries : np.ndarray or torch.Tensor [Q, dim]
            float32/float64 (or int) numpy arrays, or torch tensors on the CPU or a CUDA device.
        k : int
            1 <= k <= count.

        Returns
        -------
        scores, ids
            [Q, k] float32 cosine similarities (descending) and int64 prototype ids, as numpy
            arrays for numpy input and torch tensors on the query's device for torch input.
            An approximate index may return id -1 (score -inf) when it finds fewer than k.
        """
        if val.is_torch(queries):
            return self._search_torch(queries, k)
        q = np.asarray(queries)
        val.check_query_shape(q.shape, self.dim, self.count, k, self._where)
        return self._search_numpy(*val.check_query_values(q, self._where), int(k))

    def _search_numpy(self, q: np.ndarray, norms: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # The index holds normalised prototypes, so ranking by q . p is ranking by cosine; the
        # scores are divided by |q| afterwards (no copy of the queries).
        index = self.index
        if q.size < BLAS_MIN_QD:  # faiss's per-pair loop is right for a few queries: skip the switch
            scores, ids = index.search(q, k)
        else:
            with blas_path():
                scores, ids = index.search(q, k)
        if norms.all():
            scores /= norms[:, None]
        else:  # zero queries: cosine 0 everywhere, keep the 0 scores
            np.divide(scores, norms[:, None], out=scores, where=norms[:, None] > 0)
        return scores, ids

    def _search_torch(self, queries: Any, k: int) -> tuple[Any, Any]:
        import torch

        val.check_query_shape(tuple(queries.shape), self.dim, self.count, k, self._where)
        q = queries.detach()
        if q.device.type == "cpu":
            arr = q.numpy() if q.dtype in (torch.float32, torch.float64) else q.to(torch.float32).numpy()
            scores, ids = self._search_numpy(*val.check_query_values(arr, self._where), int(k))
            return torch.from_numpy(scores), torch.from_numpy(ids)
        from backpack.store._device_search import device_search

        return device_search(self, q, int(k))

    def __repr__(self) -> str:
        return (
            f"TaskView({self.name!r}, version={self.version}, count={self.count}, dim={self.dim}, "
            f"index={self.entry.index.type!r})"
        )
