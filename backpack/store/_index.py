"""FAISS indexes of a task: build (flat / IVF / HNSW), measure recall, (de)serialize, search.

Cosine similarity is the inner product of L2-normalised vectors. Exact search is an
``IndexFlatIP``; approximate ones are tuned at build time (``nprobe`` / ``efSearch``) on the task's
own prototypes, because recall depends on how clustered they are.

Tuning rule (docs/store-format.md, "Approximate indexes"): up to 500 sampled prototypes are
**held out** (left out of IVF k-means training and excluded from every search result while
tuning); recall@4 of those queries against exact search over the other prototypes is measured
for each rung of a ladder of ``nprobe`` / ``efSearch`` values, and the first rung whose one-sided
95% lower confidence bound (mean - 1.645 standard errors over queries) reaches the target wins.
Why not prototypes queried with their own id dropped (the rule before): measured on 1M clustered
prototypes (IVF1024, nprobe 1/2) that estimate was 0.015/0.006 above the recall of new queries
from the same distribution, and stopping at the first rung whose 500-query estimate touched 0.95
picked nprobe 2, whose recall on new queries is 0.949 (benchmarks/bench_store.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from backpack.errors import BackpackError, IntegrityError, invalid
from backpack.store._index_check import check_approx_contents
from backpack.store.manifest import IndexSpec

# "auto" picks an approximate index at and above this many prototypes (benchmarks/bench_store*.py:
# IVF pays off near 1M on clustered data and loses on unstructured data, so auto falls back to
# flat whenever the measured recall misses the target).
AUTO_APPROX_THRESHOLD = 200_000
RECALL_K = 4
RECALL_TARGET = 0.95
RECALL_QUERIES = (
    500  # held-out prototypes: standard error about 0.005 at recall 0.95, cheap next to the build
)
RECALL_Z = 1.645  # one-sided 95%: a rung is accepted when mean - RECALL_Z * stderr >= target
INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")
_PARAMS = {
    "flat": set(),
    "ivf": {"nlist", "nprobe", "recall_target"},
    "hnsw": {"M", "efConstruction", "efSearch", "recall_target"},
}

BLAS_MIN_QD = 2048  # queries x dim from which the GEMM path is used
_blas_lock = threading.RLock()


@contextmanager
def blas_path() -> Iterator[None]:
    """Force faiss's BLAS k-NN path for small query batches, restoring the global settings after.

    faiss takes a per-pair SIMD loop when Q x D < 128,000 (fewer than 500 queries at D = 256),
    2-9x slower here than its GEMM path (reference/facts.md). Below Q x D = 2048 (a handful of
    queries) the fixed cost of a GEMM call loses to the per-pair loop, so tiny batches keep it.
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


def held_out_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row ids of the prototypes held out to measure recall (a tenth, at most RECALL_QUERIES)."""
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    return np.sort(rng.choice(n, size=max(1, min(RECALL_QUERIES, n // 10)), replace=False)).astype(np.int64)


def _without(held: np.ndarray) -> tuple[Any, Any]:
    """A faiss selector of every id except ``held`` (and the batch it wraps: faiss keeps no reference)."""
    import faiss

    batch = faiss.IDSelectorBatch(np.ascontiguousarray(held, dtype=np.int64))
    return faiss.IDSelectorNot(batch), batch


def exact_held_out(xb: np.ndarray, held: np.ndarray, k: int = RECALL_K) -> np.ndarray:
    """Exact top-k ids [len(held), k'] of the prototypes ``held`` among all the others (k' <= k)."""
    import faiss

    kk = min(k, xb.shape[0] - len(held))
    flat = faiss.IndexFlatIP(xb.shape[1])
    flat.add(xb)
    sel, _keep = _without(held)
    with blas_path():
        return flat.search(xb[held], kk, params=faiss.SearchParameters(sel=sel))[1]


def measure_recall(
    index: Any,
    kind: str,
    value: int,
    xb: np.ndarray,
    held: np.ndarray,
    exact: np.ndarray | None = None,
    k: int = RECALL_K,
) -> tuple[float, float]:
    """recall@k of ``index`` (knob at ``value``) on the held-out prototypes, and its standard error.

    The rows ``held`` query the index with themselves excluded from the results, so the rest of
    the index answers them as it would a new query; ``exact`` (from :func:`exact_held_out`) is
    the truth over the same rows. The standard error is over queries (hits of one query are
    correlated). For an IVF index built by :func:`build_index` the held-out rows were also left
    out of k-means training; an HNSW graph still routes through them.
    """
    import faiss

    if len(held) == 0 or xb.shape[0] - len(held) < 1:
        return 1.0, 0.0
    if exact is None:
        exact = exact_held_out(xb, held, k)
    sel, _keep = _without(held)
    params = (
        faiss.SearchParametersIVF(sel=sel, nprobe=int(value))
        if kind == "ivf"
        else faiss.SearchParametersHNSW(sel=sel, efSearch=int(value))
    )
    with blas_path():
        approx = index.search(xb[held], exact.shape[1], params=params)[1]
    per_query = np.array([np.isin(t, a).mean() for a, t in zip(approx, exact)])
    stderr = float(per_query.std(ddof=1) / np.sqrt(len(per_query))) if len(per_query) > 1 else 0.0
    return float(per_query.mean()), stderr


def _check_params(kind: str, params: dict[str, Any], where: str) -> None:
    unknown = sorted(set(params) - _PARAMS[kind])
    if unknown:
        raise BackpackError(
            invalid("index_params", where, f"a subset of {sorted(_PARAMS[kind])} for {kind!r}", unknown)
        )
    for key, value in params.items():
        ok = (
            isinstance(value, float) and 0 < value <= 1
            if key == "recall_target"
            else (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
        )
        if not ok:
            raise BackpackError(
                invalid(
                    f"index_params[{key!r}]", where, "a positive integer (recall_target: (0, 1])", repr(value)
                )
            )


def build_index(
    xb: np.ndarray,
    kind: str = "auto",
    params: dict[str, Any] | None = None,
    where: str = "a task",
    seed: int = 0,
) -> tuple[Any, IndexSpec]:
    """Build the index over normalised prototypes ``xb`` [P, D]; return it and its manifest spec.

    Approximate indexes are tuned by the rule of the module docstring; ``spec.recall_at_k`` is
    the held-out recall at the chosen knob. ``auto`` keeps IVF only when its tuning met the target.
    """
    if kind not in INDEX_TYPES:
        raise BackpackError(invalid("index", where, f"one of {list(INDEX_TYPES)}", repr(kind)))
    params = dict(params or {})
    if kind == "auto":
        if params:
            raise BackpackError(invalid("index_params", where, "none with index='auto'", sorted(params)))
        if xb.shape[0] >= AUTO_APPROX_THRESHOLD:
            index, spec, met = _build_approx(xb, "ivf", {}, where, seed)
            if met:
                return index, spec
            return _build_flat(xb), IndexSpec(
                "flat", {"auto_rejected": "ivf", "ivf_recall_at_k": spec.recall_at_k}
            )
        kind = "flat"
    _check_params(kind, params, where)
    if kind == "flat":
        return _build_flat(xb), IndexSpec("flat", {})
    return _build_approx(xb, kind, params, where, seed)[:2]


def _build_flat(xb: np.ndarray) -> Any:
    import faiss

    index = faiss.IndexFlatIP(xb.shape[1])
    index.add(xb)
    return index


def _build_approx(
    xb: np.ndarray, kind: str, params: dict[str, Any], where: str, seed: int
) -> tuple[Any, IndexSpec, bool]:
    """IVF or HNSW index, its spec, and whether a rung met the target (lower bound >= target)."""
    import faiss

    n, d = xb.shape
    target = float(params.pop("recall_target", RECALL_TARGET))
    rng = np.random.default_rng(seed)
    held = held_out_sample(n, rng)
    if kind == "ivf":
        # about sqrt(n) lists (facts.md: IVF320 at 100k, IVF1024 at 1M kept recall@4 >= 0.97);
        # k-means wants >= 39 points per list.
        nlist = params.get("nlist") or int(max(1, min(round(np.sqrt(n)), n // 39)))
        if nlist > n:
            raise BackpackError(invalid("index_params['nlist']", where, f"<= count ({n})", nlist))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        # k-means never sees the held-out rows (unless too few rows are left to train nlist lists);
        # 64 points per list train it well enough and bound the build time at 1M.
        pool = np.setdiff1d(np.arange(n), held) if n - len(held) >= nlist else np.arange(n)
        train = (
            xb[np.sort(rng.choice(pool, size=64 * nlist, replace=False))]
            if len(pool) > 64 * nlist
            else xb[pool]
        )
        index.cp.seed = seed
        index.train(train)
        del train
        index.add(xb)
        knob, values = "nprobe", [params["nprobe"]] if "nprobe" in params else _ladder(nlist)
        params_out: dict[str, Any] = {"nlist": nlist}
    else:
        m = params.get("M", 32)
        index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.get("efConstruction", 64)
        index.add(xb)
        knob = "efSearch"
        values = (
            [params["efSearch"]]
            if "efSearch" in params
            else [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
        )
        params_out = {"M": m, "efConstruction": index.hnsw.efConstruction}
    exact = exact_held_out(xb, held) if len(held) else None
    recall, met = 1.0, False
    for value in values:
        recall, stderr = measure_recall(index, kind, value, xb, held, exact)
        met = recall - RECALL_Z * stderr >= target
        if met:
            break
    set_knob(index, kind, value)
    params_out[knob] = int(value)
    params_out["recall_target"] = target
    return index, IndexSpec(kind, params_out, round(recall, 6), RECALL_K), met


def _ladder(nlist: int) -> list[int]:
    """1, 2, 3, 4, 6, 8, 12, ... (steps of about 1.4x: a doubling overshoots the target by up to 2x
    in search time), then a quarter of the lists (probing more is no longer worth it vs flat)."""
    out, p = [], 1
    while p < nlist // 4:
        out.append(p)
        if p >= 2 and p * 3 // 2 < nlist // 4:
            out.append(p * 3 // 2)
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
    check_approx_contents(index, spec, count, where)
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
