"""CrossTaskInteraction: eq. (3) over several tasks, neighbour re-selection, checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from backpack.errors import ConfigError
from backpack.models import CrossTaskInteraction


def test_shapes_and_logits_per_task(make_views: Callable) -> None:
    torch.manual_seed(0)
    views = make_views()
    inter = CrossTaskInteraction(views, {"state": 2}, k=3, depth=2)
    feats = {"ar": torch.randn(5, 8), "pnr": torch.randn(5, 6)}
    refined, logits = inter(feats)
    assert {t: tuple(f.shape) for t, f in refined.items()} == {"ar": (5, 8), "pnr": (5, 6)}
    assert {t: tuple(lg["state"].shape) for t, lg in logits.items()} == {"ar": (5, 2), "pnr": (5, 2)}
    assert inter.last_neighbours["ar"].shape == (2, 5, 3)
    # one batched search per task per layer
    assert views["ar"].calls == 2 and views["pnr"].calls == 2


def test_matches_manual_two_layer_refinement(make_views: Callable) -> None:
    torch.manual_seed(0)
    views = make_views(dims={"ar": 4})
    inter = CrossTaskInteraction(views, {"y": 3}, k=2, depth=2)
    for layer in inter.layers["ar"]:
        torch.nn.init.normal_(layer.lin_root.weight)
    f0 = torch.randn(7, 4)
    refined, logits = inter({"ar": f0})
    protos = torch.from_numpy(views["ar"].prototypes)
    f = f0
    for i, layer in enumerate(inter.layers["ar"]):
        ids = views["ar"].search(f, 2)[1]  # neighbours of the CURRENT features
        f = layer.lin_root(f) + layer.lin_proto(protos[ids].max(dim=1).values)
        if i == 0:
            f = torch.nn.functional.leaky_relu(f, 0.01)
    torch.testing.assert_close(refined["ar"], f)
    torch.testing.assert_close(logits["ar"]["y"], inter.classifiers["ar"]["y"](f))


def test_neighbours_are_reselected_at_every_layer(make_views: Callable) -> None:
    """The reference code searched with the initial features at every layer; here they change."""
    torch.manual_seed(0)
    views = make_views(dims={"ar": 8}, count=40)
    inter = CrossTaskInteraction(views, {"y": 2}, k=4, depth=3)
    for layer in inter.layers["ar"]:
        torch.nn.init.normal_(layer.lin_root.weight)
        torch.nn.init.normal_(layer.lin_proto.weight)
    f0 = torch.randn(16, 8)
    inter({"ar": f0})
    ids = inter.last_neighbours["ar"]
    initial = views["ar"].search(f0, 4)[1]
    assert torch.equal(ids[0], initial)
    assert not torch.equal(ids[1], initial) and not torch.equal(ids[2], ids[1])


def test_gradients_flow_to_weights_and_features_only(make_views: Callable) -> None:
    torch.manual_seed(0)
    # random votes: zero-initialised ones (the default) pass no gradient back on the very first step
    inter = CrossTaskInteraction(make_views(), {"y": 2}, k=2, depth=2, zero_votes=False)
    feats = {"ar": torch.randn(4, 8, requires_grad=True), "pnr": torch.randn(4, 6, requires_grad=True)}
    _, logits = inter(feats)
    sum(lg["y"].sum() for lg in logits.values()).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats.values())
    assert all(p.grad is not None for p in inter.parameters())
    assert not any(b.requires_grad for b in inter.buffers())
    assert inter.state_dict().keys().isdisjoint({"prototypes_ar", "prototypes_pnr"})


def test_k_zero_leaves_features_unchanged(make_views: Callable) -> None:
    inter = CrossTaskInteraction(make_views(), {"y": 2}, k=0, depth=2)
    feats = {"ar": torch.randn(4, 8), "pnr": torch.randn(4, 6)}
    refined, _ = inter(feats)
    assert all(torch.equal(refined[t], feats[t]) for t in feats)


def test_batch_independence(make_views: Callable) -> None:
    """No batch-wide normalisation: a node's output does not depend on the other nodes."""
    torch.manual_seed(0)
    inter = CrossTaskInteraction(make_views(), {"y": 2}, k=3, depth=2)
    feats = {"ar": torch.randn(6, 8), "pnr": torch.randn(6, 6)}
    _, full = inter(feats)
    _, part = inter({t: f[:2] for t, f in feats.items()})
    torch.testing.assert_close(full["ar"]["y"][:2], part["ar"]["y"])


def test_rejects_k_larger_than_prototypes(make_views: Callable) -> None:
    with pytest.raises(ConfigError, match=r"'ar' has 12 prototypes, fewer than k = 13"):
        CrossTaskInteraction(make_views(), {"y": 2}, k=13)


def test_rejects_wrong_feature_dim_naming_both(make_views: Callable) -> None:
    inter = CrossTaskInteraction(make_views(), {"y": 2}, k=2)
    with pytest.raises(ConfigError, match=r"'pnr'.*\[M, 6\].*feature dim 7"):
        inter({"ar": torch.randn(3, 8), "pnr": torch.randn(3, 7)})


def test_rejects_missing_task(make_views: Callable) -> None:
    inter = CrossTaskInteraction(make_views(), {"y": 2}, k=2)
    with pytest.raises(ConfigError, match="Missing features.*pnr"):
        inter({"ar": torch.randn(3, 8)})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"k": -1}, "'k'"),
        ({"depth": 0}, "'depth'"),
        ({"outputs": {}}, "'outputs'"),
        ({"store_tasks": {}}, "at least one"),
    ],
)
def test_rejects_bad_config(make_views: Callable, kwargs: dict, match: str) -> None:
    args = {"store_tasks": make_views(), "outputs": {"y": 2}, "k": 2, "depth": 2} | kwargs
    with pytest.raises(ConfigError, match=match):
        CrossTaskInteraction(**args)


def test_docstring_example_on_a_real_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The README/docstring use: random tensors, an opened store, no backbone."""
    import numpy as np

    from backpack.store import Backpack

    rng = np.random.default_rng(0)
    bp = Backpack.create(tmp_path / "store", verbs=["cut", "take", "open"], nouns=["cup", "knife"])
    keys = np.array([(v, n) for v in range(3) for n in range(2)], dtype=np.int32)
    with bp.new_version(message="random") as v:
        for t, d in (("ar", 8), ("pnr", 4)):
            v.add_task(t, rng.standard_normal((6, d)).astype(np.float32), keys, np.ones(6, np.int64))
    bp = Backpack.open(tmp_path / "store")
    torch.manual_seed(0)
    inter = CrossTaskInteraction({t: bp.task(t) for t in bp.task_names}, {"state": 2}, k=4, depth=2)
    feats = {t: torch.randn(32, bp.task(t).dim) for t in bp.task_names}
    refined, logits = inter(feats)
    votes = sum(lg["state"] for lg in logits.values())
    assert votes.shape == (32, 2) and refined["pnr"].shape == (32, 4)
    # the store's search and an exact cosine search pick the same neighbours at the first layer
    protos = torch.nn.functional.normalize(torch.from_numpy(np.array(bp.task("ar").prototypes)), dim=1)
    exact = torch.topk(torch.nn.functional.normalize(feats["ar"], dim=1) @ protos.T, 4, dim=1).indices
    assert torch.equal(inter.last_neighbours["ar"][0].sort(dim=1).values, exact.sort(dim=1).values)
