"""CrossTaskInteraction: eq. (3) over several tasks, neighbour re-selection, checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from backpack.errors import ConfigError
from backpack.learner import CrossTaskInteraction

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
    inter = CrossTaskInteraction(make_views(), {"y": 2}, k=2, depth=2)
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
    [({"k": -1}, "'k'"), ({"depth": 0}, "'depth'"), ({"outputs": {}}, "'outputs'"), ({"store_tasks": {}}, "at least one")],
)
def test_rejects_bad_config(make_views: Callable, kwargs: dict, match: str) -> None:
    args = {"store_tasks": make_views(), "outputs": {"y": 2}, "k": 2, "depth": 2} | kwargs
    with pytest.raises(ConfigError, match=match):
        CrossTaskInteraction(**args)
