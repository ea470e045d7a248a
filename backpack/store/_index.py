"""FAISS indexes of a task: build (flat / IVF / HNSW), measure recall, (de)serialize, search.

Cosine similarity is the inner product of L2-normalised vectors. Exact search is an
``IndexFlatIP``; approximate ones are tuned at build time (``nprobe`` / ``efSearch``) to reach a
recall target on the task's own prototypes, because recall depends on how clustered they are.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from backpack.errors import BackpackError, IntegrityError, invalid
from backpack.store.manifest import IndexSpec

# "auto" picks an approximate index at and above this many prototypes (benchmarks/bench_store*.py:
# IVF pays off near 1M on clustered data and loses on unstructured data, so auto falls back to
# flat whenever the measured recall misses the target).
AUTO_APPROX_THRESHOLD = 200_000
RECALL_K = 4
RECALL_TARGET = 0.95
RECALL_QUERIES = 500  # x 4 neighbours: recall known to about +-0.01, cheap next to the build
INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")
_PARAMS = {"flat": set(), "ivf": {"nlist", "nprobe", "recall_target"}, "hnsw": {"M", "efConstruction", "efSearch", "recall_target"}}

BLAS_MIN_QD = 2048  # queries x dim from which the GEMM path is used
_blas_lock = threading.RLock()


@contextmanager
def blas_path() -> Iterator[None]:
    """Force faiss's BLAS k-NN path for small query batches, restoring the global settings after.

    faiss takes a per-pair SIMD loop when Q x D < 128,000 (fewer than 500 queries at D = 256),
    2-9x slower here than its GEMM path (reference/facts.md). Below Q x D = 2048 (a handful of
    queries) the fixed cost of a GEMM call loses to the per-pair loop (measured: Q = 1, P = 3,000,
    D = 256: 0.04 ms per-pair vs 0.2 ms GEMM), so tiny batches keep it.
    """
    import faiss

    cv = faiss.cvar
    with _blas_lock:
        old = (cv.distance_compute_blas_threshold, cv.distance_compute_blas_database_bs)
        cv.distance_compute_blas_threshold = BLAS_MIN_QD
        cv.distance_compute_blas_database_bs = 1024
        try:
            yield
        finally:
            cv.distance_compute_blas_threshold, cv.distance_compute_blas_database_bs = old


def normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2-normalised float32 copy (zero rows stay zero)."""
    x = np.array(x, dtype=np.float32, order="C", copy=True)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float32))
    np.divide(x, norms[:, None], out=x, where=norms[:, None] > 0)
    return x


def _exact_topk(xb: np.ndarray, xq: np.ndarray, k: int) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(xb.shape[1])
    flat.add(xb)
    with blas_path():
        return flat.search(xq, k)[1]


def measure_recall(index: Any, xb: np.ndarray, k: int = RECALL_K, seed: int = 0, exact: np.ndarray | None = None,
                   sample: np.ndarray | None = None) -> float:
    """recall@k of ``index`` on sampled prototypes as queries, each one's own id left out.

    Querying with stored vectors would find themselves trivially; dropping the self match makes
    the sample behave like held-out queries near the data.
    """
    n = xb.shape[0]
    kk = min(k, n - 1)
    if kk < 1:
        return 1.0
    if sample is None:
        sample = np.random.default_rng(seed).choice(n, size=min(RECALL_QUERIES, n), replace=False)
    xq = xb[sample]
    if exact is None:
        exact = _exact_topk(xb, xq, kk + 1)
    with blas_path():
        approx = index.search(xq, kk + 1)[1]
    hits = 0
    for i, q in enumerate(sample):
        truth = [j for j in exact[i] if j != q][:kk]
        found = {j for j in approx[i] if j != q and j >= 0}
        hits += len(found.intersection(truth))
    return hits / (kk * len(sample))


def _check_params(kind: str, params: dict[str, Any], where: str) -> None:
    unknown = sorted(set(params) - _PARAMS[kind])
    if unknown:
        raise BackpackError(invalid("index_params", where, f"a subset of {sorted(_PARAMS[kind])} for {kind!r}", unknown))
    for key, value in params.items():
        ok = isinstance(value, float) and 0 < value <= 1 if key == "recall_target" else (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1)
        if not ok:
            raise BackpackError(invalid(f"index_params[{key!r}]", where, "a positive integer (recall_target: (0, 1])", repr(value)))


def build_index(xb: np.ndarray, kind: str = "auto", params: dict[str, Any] | None = None, where: str = "a task",
                seed: int = 0) -> tuple[Any, IndexSpec]:
    """Build the index over normalised prototypes ``xb`` [P, D]; return it and its manifest spec."""
    import faiss

    if kind not in INDEX_TYPES:
        raise BackpackError(invalid("index", where, f"one of {list(INDEX_TYPES)}", repr(kind)))
    params = dict(params or {})
    n, d = xb.shape
    if kind == "auto":
        if params:
            raise BackpackError(invalid("index_params", where, "none with index='auto'", sorted(params)))
        if n < AUTO_APPROX_THRESHOLD:
            kind = "flat"
        else:
            index, spec = build_index(xb, "ivf", {}, where, seed)
            if spec.recall_at_k is not None and spec.recall_at_k >= RECALL_TARGET:
                return index, spec
            flat, _ = build_index(xb, "flat", {}, where, seed)
            return flat, IndexSpec("flat", {"auto_rejected": "ivf", "ivf_recall_at_k": spec.recall_at_k})
    _check_params(kind, params, where)
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
        index.add(xb)
        return index, IndexSpec("flat", {})
    target = float(params.pop("recall_target", RECALL_TARGET))
    rng = np.random.default_rng(seed)
    sample = rng.choice(n, size=min(RECALL_QUERIES, n), replace=False)
    exact = _exact_topk(xb, xb[sample], min(RECALL_K, n - 1) + 1) if n > 1 else None
    if kind == "ivf":
        # about sqrt(n) lists (facts.md: IVF320 at 100k, IVF1024 at 1M kept recall@4 >= 0.97);
        # k-means wants >= 39 points per list.
        nlist = params.get("nlist") or int(max(1, min(round(np.sqrt(n)), n // 39)))
        if nlist > n:
            raise BackpackError(invalid("index_params['nlist']", where, f"<= count ({n})", nlist))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        # 64 points per list train k-means well enough and bound the build time at 1M.
        train = xb[rng.choice(n, size=64 * nlist, replace=False)] if n > 64 * nlist else xb
        index.cp.seed = seed
        index.train(train)
        index.add(xb)
        knob, values = "nprobe", [params["nprobe"]] if "nprobe" in params else _ladder(nlist)
        params_out: dict[str, Any] = {"nlist": nlist}
    else:
        m = params.get("M", 32)
        index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.get("efConstruction", 64)
        index.add(xb)
        knob = "efSearch"
        values = [params["efSearch"]] if "efSearch" in params else [16, 32, 64, 128, 256, 512]
        params_out = {"M": m, "efConstruction": index.hnsw.efConstruction}
    recall = 1.0
    for value in values:
        set_knob(index, kind, value)
        recall = measure_recall(index, xb, seed=seed, exact=exact, sample=sample)
        if recall >= target:
            break
    params_out[knob] = int(value)
    params_out["recall_target"] = target
    return index, IndexSpec(kind, params_out, round(float(recall), 6), RECALL_K)


def _ladder(nlist: int) -> list[int]:
    out, p = [], 1
    while p < nlist // 4:  # probing a quarter of the lists is no longer worth it vs flat
        out.append(p)
        p *= 2
    return out + [max(1, nlist // 4)]


def set_knob(index: Any, kind: str, value: int) -> None:
    """Set the search-time parameter of an approximate index."""
    import faiss

    if kind == "ivf":
        faiss.extract_index_ivf(index).nprobe = int(value)
    elif kind == "hnsw":
        index.hnsw.efSearch = int(value)


def serialize(index: Any) -> np.ndarray:
    """FAISS index -> uint8 array."""
    import faiss

    return np.asarray(faiss.serialize_index(index), dtype=np.uint8)


def deserialize(data: np.ndarray, spec: IndexSpec, dim: int, count: int, where: str) -> Any:
    """uint8 array (already checksum-verified) -> FAISS index, checked against the manifest."""
    import faiss

    if spec.type == "flat":
        _check_flat_layout(data, dim, count, where)
    try:
        index = faiss.deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))
    except (RuntimeError, MemoryError) as exc:  # a size field faiss could not honour
        raise IntegrityError(f"Unreadable FAISS index in {where}: {str(exc).splitlines()[0]}.") from None
    if index.d != dim or index.ntotal != count:
        raise IntegrityError(
            f"FAISS index of {where} does not match its manifest. Expected dim {dim}, {count} vectors. "
            f"Got dim {index.d}, {index.ntotal} vectors."
        )
    knob = {"ivf": "nprobe", "hnsw": "efSearch"}.get(spec.type)
    if knob and knob in spec.params:
        set_knob(index, spec.type, spec.params[knob])
    return index


def _check_flat_layout(data: np.ndarray, dim: int, count: int, where: str) -> None:
    """Refuse flat-index bytes whose header or vector size disagrees with the manifest.

    A checksum only proves the bytes are the writer's; a hostile writer can claim an 8 GiB
    vector that faiss would allocate before noticing the bytes are missing. The flat layout
    is a fixed header (as faiss writes it for an empty index) plus ``count * dim`` floats.
    """
    import faiss

    empty = np.asarray(faiss.serialize_index(faiss.IndexFlatIP(dim)), dtype=np.uint8)
    head = len(empty)
    expected = empty.copy()
    # header: fourcc, d (int32), ntotal (int64) at byte 8, ..., codes size (uint64) in the last 8
    expected[8:16] = np.frombuffer(np.int64(count).tobytes(), np.uint8)
    expected[head - 8 : head] = np.frombuffer(np.uint64(count * dim).tobytes(), np.uint8)
    if data.shape[0] != head + 4 * count * dim or not np.array_equal(data[:head], expected):
        raise IntegrityError(
            f"FAISS index of {where} does not have the flat layout its manifest claims. "
            f"Expected {head + 4 * count * dim} bytes for {count} x {dim}. Got {data.shape[0]} bytes."
        )