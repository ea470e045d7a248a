"""TemporalBackbone and MLPBackbone: every registered kind, by name; behaviour that defines them."""

from __future__ import annotations

import copy

import pytest
import torch

from backpack.backbone import (
    BACKBONES,
    GraphBatch,
    MLPBackbone,
    TemporalBackbone,
    backbone_names,
    build_backbone,
)
from backpack.errors import ConfigError
from tests.backbone.bb_graphs import AVAILABLE_ENGINES, chain_edges, mixed_batch, mixed_samples

KINDS = backbone_names()


def _model(kind: str, engine: str = "native", **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_backbone(kind, in_dim=8, hidden=16, layers=2, sub_segments=3, engine=engine, **kw)


def test_registry_names_and_classes() -> None:
    assert KINDS == ["graph", "mlp"]
    assert BACKBONES["graph"] is TemporalBackbone and BACKBONES["mlp"] is MLPBackbone


def test_unknown_kind_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match="Unknown backbone 'gat'. Expected one of: graph, mlp."):
        build_backbone("gat", in_dim=8)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("engine", AVAILABLE_ENGINES)
def test_forward_shape_and_gradients_reach_every_parameter(kind: str, engine: str) -> None:
    model = _model(kind, engine)
    batch = mixed_batch()
    out = model(batch)
    assert out.shape == (batch.num_nodes, 16) and model.out_dim == 16 and torch.isfinite(out).all()
    out.pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", KINDS)
def test_graphs_in_a_batch_do_not_influence_each_other(kind: str) -> None:
    # LayerNorm over each node's own features: the output of a graph is the same alone or batched
    # (the reference implementation normalised over the whole mini-batch, which breaks this).
    model = _model(kind).eval()
    samples = mixed_samples()
    together = model(GraphBatch.collate(samples))
    start = 0
    for s in samples:
        alone = model(GraphBatch.collate([s]))
        torch.testing.assert_close(together[start : start + s.num_nodes], alone, rtol=1e-5, atol=1e-6)
        start += s.num_nodes


def test_graph_backbone_passes_messages_and_mlp_does_not() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, 3, 8, generator=gen)
    changed = x.clone()
    changed[4] += 1.0  # node 4 is two hops from node 2 in a chain: reached with 2 layers
    for kind, should_change in (("graph", True), ("mlp", False)):
        model = _model(kind).eval()
        a = model(GraphBatch.collate([_chain(x)]))
        b = model(GraphBatch.collate([_chain(changed)]))
        assert (not torch.allclose(a[2], b[2])) == should_change, kind
        assert not torch.allclose(a[4], b[4])


def _chain(x: torch.Tensor):  # type: ignore[no-untyped-def]
    from backpack.backbone import GraphSample

    return GraphSample(x, chain_edges(x.shape[0]))


@pytest.mark.parametrize("kind", KINDS)
def test_positional_encoding_is_used(kind: str) -> None:
    model = _model(kind).eval()
    batch = mixed_batch()
    shifted = copy.copy(batch)
    shifted.pos = batch.pos + 7
    shifted.cache = {}
    assert not torch.allclose(model(batch), model(shifted))


@pytest.mark.parametrize("kind", KINDS)
def test_residual_output_is_h0_plus_blocks(kind: str) -> None:
    model = _model(kind).eval()
    batch = mixed_batch()
    for norm in model.norms:  # LayerNorm weight and bias 0 -> every block outputs 0
        torch.nn.init.zeros_(norm.weight)
        torch.nn.init.zeros_(norm.bias)
    torch.testing.assert_close(model(batch), model.embed(batch))


@pytest.mark.parametrize("kind", KINDS)
def test_eval_is_deterministic_and_dropout_acts_in_training(kind: str) -> None:
    model = _model(kind, dropout=0.5)
    batch = mixed_batch()
    model.eval()
    torch.testing.assert_close(model(batch), model(batch), rtol=0, atol=0)
    model.train()
    torch.manual_seed(1)
    a = model(batch)
    torch.manual_seed(2)
    assert not torch.allclose(a, model(batch))


@pytest.mark.parametrize("kind", KINDS)
def test_engine_is_swappable_and_not_part_of_the_weights(kind: str) -> None:
    model = _model(kind, engine="native")
    keys = set(model.state_dict())
    assert not any("engine" in k for k in keys)
    model.engine = "auto"
    assert model.engine.name == AVAILABLE_ENGINES[-1] and set(model.state_dict()) == keys
    clone = copy.deepcopy(model)
    assert clone.engine == model.engine
    assert f"engine={model.engine.name!r}" in repr(model)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_weights_and_reset_parameters(kind: str) -> None:
    a, b = _model(kind), _model(kind)
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and torch.equal(pa, pb)
    before = [p.detach().clone() for p in a.parameters()]
    a.reset_parameters()
    assert any(not torch.equal(x, p) for x, p in zip(before, a.parameters()))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"in_dim": 0}, "in_dim"),
        ({"hidden": 0}, "hidden"),
        ({"layers": 0}, "layers"),
        ({"sub_segments": -2}, "sub_segments"),
        ({"dropout": 1.5}, "dropout"),
        ({"layers": 2.5}, "layers"),
    ],
)
def test_bad_config_is_rejected(kind: str, kwargs: dict, field: str) -> None:
    args = {"in_dim": 8, "hidden": 16, "layers": 2, "sub_segments": 3, "engine": "native", **kwargs}
    with pytest.raises(ConfigError, match=f"Invalid value for '{field}' in {BACKBONES[kind].__name__}"):
        build_backbone(kind, **args)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_engine_name_is_rejected(kind: str) -> None:
    with pytest.raises(ConfigError, match="Unknown graph engine 'pyg'"):
        build_backbone(kind, in_dim=8, engine="pyg")


def test_wrong_input_width_names_the_expected_shape() -> None:
    model = _model("graph")
    with pytest.raises(ConfigError, match=r"Expected \[N, 3, 8\]. Got \[57, 3, 4\]"):
        model(GraphBatch.collate(mixed_samples(dim=4)))
