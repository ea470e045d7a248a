"""Indexes (flat, IVF, HNSW, auto), recall measured at build, numpy and torch queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backpack.errors import BackpackError
from backpack.store import Backpack, _index

N_VERBS, N_NOUNS = 200, 100  # 20,000 keys: room for the larger tasks below


def clustered(n: int, dim: int, clusters: int, seed: int, spread: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    return (centres[rng.integers(0, clusters, n)] + spread * rng.normal(size=(n, dim))).astype(np.float32)


def store_with(tmp_path: Path, protos: np.ndarray, **kw: object) -> Backpack:
    n = protos.shape[0]
    bp = Backpack.create(
        tmp_path / "s", verbs=[f"v{i}" for i in range(N_VERBS)], nouns=[f"n{i}" for i in range(N_NOUNS)]
    )
    keys = np.stack([np.arange(n) // N_NOUNS, np.arange(n) % N_NOUNS], 1)
    with bp.new_version() as v:
        v.add_task("t", protos, keys, np.ones(n, np.int64), **kw)
    return Backpack.open(bp.url)


def exact_ids(protos: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    p = protos / np.linalg.norm(protos, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    return np.argsort(-(qn @ p.T), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_recall_recorded(tmp_path: Path, kind: str) -> None:
    protos = clustered(4000, 32, 40, seed=1)
    bp = store_with(tmp_path, protos, index=kind)
    spec = bp.manifest.tasks["t"].index
    assert spec.type == kind and spec.recall_k == 4
    assert spec.recall_at_k is not None and spec.recall_at_k >= 0.95
    assert ("nprobe" in spec.params) if kind == "ivf" else ("efSearch" in spec.params)
    # the recorded recall is honest: recompute it on fresh held-out-like queries
    q = protos[:300] + 0.01 * np.random.default_rng(2).normal(size=(300, 32)).astype(np.float32)
    _, ids = bp.task("t").search(q, k=4)
    ref = exact_ids(protos, q, 4)
    recall = np.mean([len(set(a) & set(b)) / 4 for a, b in zip(ids, ref)])
    assert recall >= 0.9
    assert bp.verify() == []


def test_ivf_explicit_params(tmp_path: Path) -> None:
    protos = clustered(2000, 16, 20, seed=3)
    bp = store_with(tmp_path, protos, index="ivf", index_params={"nlist": 16, "nprobe": 2})
    spec = bp.manifest.tasks["t"].index
    assert spec.params["nlist"] == 16 and spec.params["nprobe"] == 2
    import faiss

    assert faiss.extract_index_ivf(bp.task("t").index).nprobe == 2


def test_auto_picks_ivf_on_clustered_and_flat_on_isotropic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_index, "AUTO_APPROX_THRESHOLD", 1000)
    bp = store_with(tmp_path / "a", clustered(3000, 32, 30, seed=4))
    assert bp.manifest.tasks["t"].index.type == "ivf"
    iso = np.random.default_rng(5).normal(size=(3000, 64)).astype(np.float32)
    bp2 = store_with(tmp_path / "b", iso)
    spec = bp2.manifest.tasks["t"].index
    assert (
        spec.type == "flat"
        and spec.params["auto_rejected"] == "ivf"
        and spec.params["ivf_recall_at_k"] < 0.95
    )


def test_auto_is_flat_below_threshold(tmp_path: Path) -> None:
    bp = store_with(tmp_path, clustered(500, 8, 5, seed=6))
    assert bp.manifest.tasks["t"].index.type == "flat"


@pytest.mark.parametrize(
    ("index", "params", "match"),
    [
        ("annoy", None, "'index'.*one of"),
        ("ivf", {"nlist": 0}, "nlist"),
        ("hnsw", {"nprobe": 3}, "index_params.*for 'hnsw'"),
        ("auto", {"nlist": 3}, "none with index='auto'"),
        ("ivf", {"nlist": 10**6}, "nlist"),
    ],
)
def test_bad_index_choice(tmp_path: Path, index: str, params: dict | None, match: str) -> None:
    with pytest.raises(BackpackError, match=match):
        store_with(tmp_path, clustered(100, 8, 5, seed=7), index=index, index_params=params)


def test_blas_threshold_restored(tmp_path: Path) -> None:
    import faiss

    before = faiss.cvar.distance_compute_blas_threshold
    bp = store_with(tmp_path, clustered(300, 8, 5, seed=8))
    bp.task("t").search(np.ones((3, 8)), k=2)
    assert faiss.cvar.distance_compute_blas_threshold == before


def test_float64_and_int_queries_and_no_mutation(tmp_path: Path) -> None:
    protos = clustered(300, 8, 5, seed=9)
    t = store_with(tmp_path, protos).task("t")
    q = np.random.default_rng(1).normal(size=(4, 8))
    q_copy = q.copy()
    s64, i64 = t.search(q, k=3)
    s32, i32 = t.search(q.astype(np.float32), k=3)
    np.testing.assert_array_equal(q, q_copy)
    np.testing.assert_array_equal(i64, i32)
    np.testing.assert_array_equal(i64, exact_ids(protos, q, 3))
    _, ii = t.search(np.arange(16).reshape(2, 8), k=1)
    assert ii.shape == (2, 1)


def test_torch_cpu_queries(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")  # both environments have torch; the store does not need it
    protos = clustered(300, 8, 5, seed=10)
    t = store_with(tmp_path, protos).task("t")
    q = torch.randn(5, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    scores, ids = t.search(q, k=4)
    assert isinstance(scores, torch.Tensor) and isinstance(ids, torch.Tensor)
    assert scores.dtype == torch.float32 and ids.dtype == torch.int64 and scores.shape == (5, 4)
    np.testing.assert_array_equal(ids.numpy(), exact_ids(protos, q.detach().numpy(), 4))
    with pytest.raises(BackpackError, match="query dim"):
        t.search(torch.zeros(2, 7), k=1)
    bad = torch.ones(2, 8)
    bad[1, 3] = float("nan")
    with pytest.raises(BackpackError, match=r"queries\[1, 3\]"):
        t.search(bad, k=1)


def test_device_search_path_matches_faiss(tmp_path: Path) -> None:
    """The on-device exact torch search (used for CUDA queries) agrees with faiss; run on CPU tensors."""
    torch = pytest.importorskip("torch")
    from backpack.store._device_search import device_search

    protos = clustered(500, 16, 10, seed=11)
    t = store_with(tmp_path, protos).task("t")
    q = torch.from_numpy(np.random.default_rng(3).normal(size=(7, 16)).astype(np.float32))
    s_dev, i_dev = device_search(t, q, 5)
    s_ref, i_ref = t.search(q.numpy(), k=5)
    np.testing.assert_array_equal(i_dev.numpy(), i_ref)
    np.testing.assert_allclose(s_dev.numpy(), s_ref, atol=1e-5)
    assert "torch:cpu" in t._device_cache  # normalised prototypes cached once on the device
    with pytest.raises(BackpackError, match="finite"):
        device_search(t, torch.full((1, 16), float("inf")), 1)


def test_cuda_queries_stay_on_device(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (the device path is also tested on CPU tensors above)")
    protos = clustered(500, 16, 10, seed=12)
    t = store_with(tmp_path, protos).task("t")
    q = torch.randn(6, 16, device="cuda")
    scores, ids = t.search(q, k=3)
    assert scores.device.type == "cuda" and ids.device.type == "cuda"
    np.testing.assert_array_equal(ids.cpu().numpy(), exact_ids(protos, q.cpu().numpy(), 3))


def test_key_names_of_search_results(tmp_path: Path) -> None:
    protos = clustered(50, 8, 5, seed=13)
    t = store_with(tmp_path, protos).task("t")
    _, ids = t.search(protos[:2], k=1)
    assert t.key_names(ids[:, 0]) == [("v0", "n0"), ("v0", "n1")]


def test_query_scale_and_zero_queries(tmp_path: Path) -> None:
    """Cosine ignores the query norm (tiny, huge, zero queries)."""
    protos = clustered(200, 8, 5, seed=14)
    t = store_with(tmp_path, protos).task("t")
    q = np.random.default_rng(4).normal(size=(3, 8)).astype(np.float32)
    s1, i1 = t.search(q, k=3)
    for scale in (1e-30, 1e30):
        s2, i2 = t.search(q * scale, k=3)
        np.testing.assert_array_equal(i1, i2)
        np.testing.assert_allclose(s1, s2, atol=1e-5)
    s0, _ = t.search(np.zeros((1, 8)), k=2)
    np.testing.assert_array_equal(s0, 0)


@pytest.mark.parametrize("kind", _index.INDEX_TYPES)
def test_every_index_type_round_trips(tmp_path: Path, kind: str) -> None:
    """Each registered index type builds, survives serialisation and finds each prototype itself."""
    protos = clustered(1200, 16, 12, seed=15)
    bp = store_with(tmp_path, protos, index=kind)
    t = bp.task("t")
    assert t.index_spec.type == ("flat" if kind == "auto" else kind)
    assert t.index.ntotal == 1200 and t.index.d == 16
    _, ids = t.search(protos[:100], k=1)
    assert (ids[:, 0] == np.arange(100)).mean() >= 0.95
    assert bp.verify() == []
