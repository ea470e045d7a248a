"""Build-time tuning of approximate indexes: recall measured on held-out prototypes, lower bound >= target."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from backpack.store import _index
from backpack.store._index import (
    RECALL_TARGET,
    RECALL_Z,
    build_index,
    held_out_sample,
    measure_recall,
    normalize,
    set_knob,
)


def cells(n: int, dim: int, seed: int, draw: int, noise: float = 0.8) -> np.ndarray:
    """Prototype-like vectors: verb centre + noun centre + noise (60 x 80 cells, about 4 rows each at 20k).

    ``seed`` fixes the centres, ``draw`` the rows: another ``draw`` gives new queries from the
    same distribution, i.e. queries the index has never seen.
    """
    centres = np.random.default_rng(seed)
    verbs, nouns = centres.normal(size=(60, dim)), centres.normal(size=(80, dim))
    rng = np.random.default_rng([seed, draw])
    rows = verbs[rng.integers(0, 60, n)] + nouns[rng.integers(0, 80, n)] + noise * rng.normal(size=(n, dim))
    return normalize(rows.astype(np.float32))


def recall(index: faiss.Index, xb: np.ndarray, q: np.ndarray) -> float:
    truth = faiss.knn(q, xb, 4, metric=faiss.METRIC_INNER_PRODUCT)[1]
    return float(np.mean([np.isin(t, f).mean() for f, t in zip(index.search(q, 4)[1], truth)]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_ivf_reaches_the_target_on_new_queries(seed: int) -> None:
    """20k clustered prototypes, default params: new queries (never indexed) get recall@4 >= 0.95."""
    xb, q = cells(20_000, 32, seed, draw=0), cells(2_000, 32, seed, draw=1)
    index, spec = build_index(xb, "ivf", seed=seed)
    new = recall(index, xb, q)
    assert new >= RECALL_TARGET, (spec, new)
    # the manifest's recall is what new queries get (500 held-out queries: standard error ~0.005)
    assert abs(spec.recall_at_k - new) <= 0.02, (spec, new)
    # the data needs tuning at all: one probed list is far from the target
    set_knob(index, "ivf", 1)
    assert recall(index, xb, q) < 0.9


def test_first_rung_whose_lower_bound_meets_the_target_wins() -> None:
    xb = cells(20_000, 32, seed=3, draw=0)
    index, spec = build_index(xb, "ivf", seed=3)
    ladder = _index._ladder(spec.params["nlist"])
    chosen = ladder.index(spec.params["nprobe"])
    assert chosen > 0  # nprobe 1 is not enough here (see above), so a rung below exists
    held = held_out_sample(xb.shape[0], np.random.default_rng(3))  # the build's first draw
    mean, stderr = measure_recall(index, "ivf", ladder[chosen], xb, held)
    assert mean == pytest.approx(spec.recall_at_k, abs=1e-6) and mean - RECALL_Z * stderr >= RECALL_TARGET
    below, below_err = measure_recall(index, "ivf", ladder[chosen - 1], xb, held)
    assert below - RECALL_Z * below_err < RECALL_TARGET


def test_held_out_rows_are_excluded_from_results_and_truth() -> None:
    """One list probed in full is exact search: recall 1 only if each query's own row is excluded."""
    xb = cells(3_000, 16, seed=4, draw=0)
    index, spec = build_index(xb, "ivf", {"nlist": 1}, seed=4)
    assert spec.params["nprobe"] == 1 and spec.recall_at_k == 1.0
    held = held_out_sample(xb.shape[0], np.random.default_rng(4))
    assert len(held) == 300 and len(np.unique(held)) == 300
    truth = _index.exact_held_out(xb, held)
    assert not np.isin(truth, held).any() and truth.shape == (300, 4)


def test_higher_target_picks_a_higher_rung() -> None:
    xb = cells(20_000, 32, seed=5, draw=0)
    _, low = build_index(xb, "ivf", {"recall_target": 0.8}, seed=5)
    _, high = build_index(xb, "ivf", {"recall_target": 0.99}, seed=5)
    assert low.params["nprobe"] < high.params["nprobe"]
    assert low.recall_at_k >= 0.8 and high.recall_at_k >= 0.99 > low.recall_at_k


@pytest.mark.parametrize(
    ("nlist", "ladder"),
    [(1, [1]), (8, [1, 2]), (16, [1, 2, 3, 4]), (141, [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 35])],
)
def test_ladder(nlist: int, ladder: list[int]) -> None:
    assert _index._ladder(nlist) == ladder


@pytest.mark.parametrize(("n", "expected"), [(1, 0), (9, 1), (4_000, 400), (10**6, 500)])
def test_held_out_sample_size(n: int, expected: int) -> None:
    assert len(held_out_sample(n, np.random.default_rng(0))) == expected
