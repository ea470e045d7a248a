"""backpack.pipeline.probe: nearest-prototype hit rates of store tasks (a diagnostic of the backpack)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backpack.errors import ConfigError
from backpack.pipeline.probe import probe_store, retrieval_hits


class KeyedView:
    """Exact cosine search over prototypes with (verb, noun) keys, numpy in and out."""

    def __init__(self, prototypes: np.ndarray, keys: np.ndarray, name: str = "ar") -> None:
        self.name, self.prototypes, self.keys = name, prototypes.astype(np.float32), keys
        self.count, self.dim = prototypes.shape

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        p = self.prototypes / np.linalg.norm(self.prototypes, axis=1, keepdims=True)
        s = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ p.T
        ids = np.argsort(-s, axis=1)[:, :k]
        return np.take_along_axis(s, ids, 1), ids


def _view(seed: int = 0) -> KeyedView:
    rng = np.random.default_rng(seed)
    keys = np.array([(v, n) for v in range(3) for n in range(4)], dtype=np.int32)  # 12 pairs
    return KeyedView(rng.standard_normal((12, 8)), keys)


def test_features_equal_to_their_prototypes_hit_every_time() -> None:
    view = _view()
    hits = retrieval_hits(view, view.prototypes, view.keys[:, 0], view.keys[:, 1])
    assert hits["verb"] == hits["noun"] == hits["pair"] == 1.0
    assert hits["chance_verb"] == pytest.approx(4 / 12) and hits["chance_noun"] == pytest.approx(3 / 12)


def test_hit_rates_count_the_rows_whose_nearest_key_matches() -> None:
    view = _view()
    # rows 0..5 query their own prototype; rows 6..11 query prototype 0 (key (0, 0)) with their own labels
    feats = np.concatenate([view.prototypes[:6], np.repeat(view.prototypes[:1], 6, axis=0)])
    labels = view.keys
    hits = retrieval_hits(view, feats, labels[:, 0], labels[:, 1])
    # rows 6..11 have keys (1,2),(1,3),(2,0),(2,1),(2,2),(2,3): verb 0 never matches, noun 0 once (row 8)
    assert hits["verb"] == pytest.approx(6 / 12)
    assert hits["noun"] == pytest.approx(7 / 12)
    assert hits["pair"] == pytest.approx(6 / 12)


def test_with_k_equal_to_all_prototypes_every_label_present_is_a_hit_and_chance_is_one() -> None:
    view = _view(1)
    rng = np.random.default_rng(3)
    feats = rng.standard_normal((20, 8))
    hits = retrieval_hits(view, feats, rng.integers(0, 3, 20), rng.integers(0, 4, 20), k=12)
    assert hits["verb"] == hits["noun"] == hits["pair"] == 1.0
    assert hits["chance_verb"] == pytest.approx(1.0) and hits["chance_noun"] == pytest.approx(1.0)


def test_ids_an_approximate_index_did_not_find_are_misses() -> None:
    view = _view()

    class Partial(KeyedView):
        def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            scores, ids = super().search(q, k)
            ids[::2] = -1  # every other query found nothing
            return scores, ids

    partial = Partial(view.prototypes, view.keys)
    hits = retrieval_hits(partial, view.prototypes, view.keys[:, 0], view.keys[:, 1])
    assert hits["verb"] == hits["noun"] == hits["pair"] == pytest.approx(0.5)


@pytest.mark.parametrize("bad", ["rows", "k0", "k_big", "empty"])
def test_bad_probe_inputs_are_clear_errors(bad: str) -> None:
    view = _view()
    feats, v, n, k = view.prototypes, view.keys[:, 0], view.keys[:, 1], 1
    if bad == "rows":
        v = v[:-1]
    elif bad == "k0":
        k = 0
    elif bad == "k_big":
        k = 13
    else:
        feats, v, n = feats[:0], v[:0], n[:0]
    with pytest.raises(ConfigError, match="'ar'"):
        retrieval_hits(view, feats, v, n, k)


def test_probe_store_on_a_trained_run_reports_every_store_task(tiny_world: dict[str, Any]) -> None:
    from backpack.data import Ego4DDataset
    from backpack.pipeline import load_run
    from backpack.store import Backpack

    model = load_run(tiny_world["mtl"]).model
    ds = Ego4DDataset(tiny_world["data"])
    with Backpack.open(tiny_world["store"]) as bp:
        tasks = {t: bp.task(t) for t in bp.task_names}
        res = probe_store(model, ds, tasks)
        assert set(res) == set(tasks)
        for hits in res.values():
            assert all(
                0.0 <= hits[key] <= 1.0 for key in ("verb", "noun", "pair", "chance_verb", "chance_noun")
            )
            assert hits["pair"] <= min(hits["verb"], hits["noun"])
        # on the split the prototypes were averaged from, AR features land on their own pair more often
        train = probe_store(model, ds, {"ar": tasks["ar"]}, split="train")["ar"]
        assert train["verb"] > train["chance_verb"]
        del model.heads["pnr"]
        with pytest.raises(ConfigError, match="no head for the store task"):
            probe_store(model, ds, tasks)
