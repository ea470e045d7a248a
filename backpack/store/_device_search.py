"""Search with queries on an accelerator (CUDA): the queries never round-trip through host memory.

With a GPU build of faiss (``faiss.get_num_gpus() > 0``) the task's index is copied to the
device once and searched with torch tensors (``faiss.contrib.torch_utils``); otherwise an exact
torch search runs on the device against L2-normalised prototypes cached there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backpack.errors import BackpackError, invalid

if TYPE_CHECKING:
    from backpack.store.taskview import TaskView

_QUERY_TILE_BYTES = 256 * 2**20  # bound the [tile, count] score matrix on the device


def _faiss_gpu_index(view: TaskView, device: Any) -> Any | None:
    import faiss

    # faiss GPU has flat and IVF indexes, not HNSW (that one uses the exact torch search).
    if (
        view.entry.index.type == "hnsw"
        or not hasattr(faiss, "StandardGpuResources")
        or faiss.get_num_gpus() <= 0
    ):
        return None
    key = f"faiss:{device}"
    cached = view._device_cache.get(key)
    if cached is None:
        import faiss.contrib.torch_utils  # noqa: F401  (lets index.search take torch tensors)

        res = faiss.StandardGpuResources()
        try:
            cached = (res, faiss.index_cpu_to_gpu(res, device.index or 0, view.index))
        except RuntimeError:  # e.g. a device faiss was not built for: the torch path still works
            cached = (None, None)
        view._device_cache[key] = cached
    return cached[1]


def exact_topk(q: Any, unit: Any, k: int, where: str, *, normalise: bool = True) -> tuple[Any, Any]:
    """Exact cosine top-``k`` in torch: the one implementation (the store's device path and the model's k-NN).

    ``unit`` [P, D] holds L2-normalised prototypes on ``q``'s device. With ``normalise=False`` the
    queries are not normalised: ranking by ``q . p`` is ranking by cosine for a fixed query, so
    the ids are the same and only the scores differ. Non-finite queries are refused. The
    [tile, P] score matrix is bounded by tiling the queries.

    Shapes: q [Q, D], unit [P, D] -> (scores [Q, k] float, ids [Q, k] int64), on ``q``'s device.
    """
    import torch

    if q.dtype != unit.dtype:
        q = q.to(unit.dtype)
    if not bool(torch.isfinite(q).all()):
        bad = torch.nonzero(~torch.isfinite(q))[0].tolist()
        raise BackpackError(invalid(f"queries[{bad[0]}, {bad[1]}]", where, "a finite number", "nan/inf"))
    if normalise:
        q = torch.nn.functional.normalize(q, dim=1)
    if q.shape[0] == 0:
        empty = q.new_empty((0, k))
        return empty, empty.to(torch.int64)
    tile = max(1, _QUERY_TILE_BYTES // (4 * max(1, unit.shape[0])))
    if q.shape[0] <= tile:
        return torch.topk(q @ unit.T, k, dim=1, sorted=True)
    parts = [torch.topk(q[i : i + tile] @ unit.T, k, dim=1, sorted=True) for i in range(0, q.shape[0], tile)]
    return torch.cat([p.values for p in parts]), torch.cat([p.indices for p in parts])


def device_search(view: TaskView, q: Any, k: int) -> tuple[Any, Any]:
    """Cosine top-``k`` for torch queries ``q`` [Q, D] on a non-CPU device; results on that device."""
    import torch

    if not (q.is_floating_point() or q.dtype in (torch.int32, torch.int64)):
        raise BackpackError(invalid("dtype of queries", view._where, "float or int", q.dtype))
    q = q.to(torch.float32)
    gpu_index = _faiss_gpu_index(view, q.device) if q.device.type == "cuda" else None
    if gpu_index is not None:
        if not bool(torch.isfinite(q).all()):  # exact_topk checks its own queries
            bad = torch.nonzero(~torch.isfinite(q))[0].tolist()
            raise BackpackError(
                invalid(f"queries[{bad[0]}, {bad[1]}]", view._where, "a finite number", "nan/inf")
            )
        return gpu_index.search(torch.nn.functional.normalize(q, dim=1).contiguous(), k)
    key = f"torch:{q.device}"
    protos = view._device_cache.get(key)
    if protos is None:
        # Prototypes are frozen: normalise once, keep them on the device.
        protos = torch.nn.functional.normalize(torch.from_numpy(view.prototypes.copy()).to(q.device), dim=1)
        view._device_cache[key] = protos
    return exact_topk(q, protos, k, view._where)
