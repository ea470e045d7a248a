"""The refinement's k-NN path (backpack/models/knn.py): the torch path exists for exact store
indexes only, is taken off the CPU only, and picks the same neighbours as the store's search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backpack.errors import BackpackError
from backpack.models import CrossTaskInteraction
from backpack.models.knn import TORCH_KNN_MAX_BYTES, nearest, torch_path_for, uses_torch_knn


def _store_views(tmp_path: Path, index: str, count: int = 200, dim: int = 16) -> dict[str, object]:
    from backpack.store import Backpack

    rng = np.random.default_rng(0)
    bp = Backpack.create(
        tmp_path / "s", verbs=[f"v{i}" for i in range(20)], nouns=[f"n{i}" for i in range(20)]
    )
    pairs = rng.permutation(400)[:count]
    keys = np.stack([pairs // 20, pairs % 20], axis=1).astype(np.int32)
    protos = rng.standard_normal((count, dim)).astype(np.float32)
    with bp.new_version(message="t") as v:
        v.add_task("lta", protos, keys, np.ones(count, np.int64), index=index)
    opened = Backpack.open(tmp_path / "s")
    return {"lta": opened.task("lta")}


def test_flat_store_task_has_a_torch_path_with_the_store_s_neighbours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = _store_views(tmp_path, "flat")
    inter = CrossTaskInteraction(views, {"y": 2}, k=4, depth=2)
    assert uses_torch_knn(views["lta"])
    unit = inter.unit_lta
    assert torch.allclose(unit.norm(dim=1), torch.ones(unit.shape[0]), atol=1e-5)
    assert "unit_lta" not in inter.state_dict()  # derived from the store, never saved
    f = torch.randn(50, 16, generator=torch.Generator().manual_seed(1)) * 3.0  # not normalised
    _, store_ids = views["lta"].search(f, 4)  # type: ignore[attr-defined]
    # CPU queries: the store's search (faster there, see knn.py)
    assert not torch_path_for(f) and torch_path_for(torch.empty(1, device="meta"))
    assert torch.equal(inter.neighbours("lta", f), store_ids)
    # the torch path (taken on accelerators), forced here: same ids, the store is not called
    monkeypatch.setattr("backpack.models.interaction.torch_path_for", lambda _: True)

    def no_search(*_: object) -> None:
        raise AssertionError("the torch path must not call the store")

    monkeypatch.setattr(views["lta"], "search", no_search)
    ours = inter.neighbours("lta", f)
    assert ours.dtype == torch.int64 and ours.shape == (50, 4)
    assert torch.equal(ours, store_ids)


def test_approximate_store_task_keeps_the_store_search(tmp_path: Path) -> None:
    views = _store_views(tmp_path, "hnsw")
    assert not uses_torch_knn(views["lta"])
    inter = CrossTaskInteraction(views, {"y": 2}, k=4, depth=1)
    assert not hasattr(inter, "unit_lta")
    ids = inter.neighbours("lta", torch.randn(5, 16, generator=torch.Generator().manual_seed(2)))
    assert ids.shape == (5, 4)


def test_views_without_an_index_spec_or_too_large_keep_the_store_search() -> None:
    class Plain:
        count, dim = 10, 4

    class Huge:
        count, dim = TORCH_KNN_MAX_BYTES // 4 + 1, 1

        class index_spec:  # noqa: N801
            type = "flat"

    assert not uses_torch_knn(Plain())
    assert not uses_torch_knn(Huge())


def test_nearest_matches_a_full_sort_and_refuses_non_finite_queries() -> None:
    g = torch.Generator().manual_seed(3)
    unit = torch.nn.functional.normalize(torch.randn(100, 8, generator=g), dim=1)
    f = torch.randn(20, 8, generator=g, dtype=torch.float64)
    ref = torch.argsort(torch.nn.functional.normalize(f.float(), dim=1) @ unit.T, dim=1, descending=True)[
        :, :3
    ]
    assert torch.equal(nearest(f, unit, 3), ref)
    f[4, 2] = float("nan")
    with pytest.raises(BackpackError, match=r"queries\[4, 2\]"):
        nearest(f, unit, 3)
