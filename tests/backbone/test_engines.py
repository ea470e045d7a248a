"""Every available engine against slow reference implementations; engine lookup by name."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backpack.backbone import (
    ENGINES,
    GraphBatch,
    GraphEngine,
    GraphSample,
    NativeEngine,
    engine_names,
    get_engine,
)
from backpack.errors import ConfigError
from tests.backbone.bb_graphs import (
    AVAILABLE_ENGINES,
    dense_mean_neighbours,
    loop_max_pool,
    loop_mean_pool,
    mixed_batch,
)


@pytest.fixture(params=AVAILABLE_ENGINES)
def engine(request: pytest.FixtureRequest) -> GraphEngine:
    return get_engine(request.param)


def _features(batch: GraphBatch, channels: int = 5, seed: int = 1) -> torch.Tensor:
    return torch.randn(
        batch.num_nodes, channels, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


def test_mean_neighbours_matches_dense_reference_with_gradients(engine: GraphEngine) -> None:
    batch = mixed_batch()
    h = _features(batch).requires_grad_()
    out = engine.mean_neighbours(batch, h)
    ref = dense_mean_neighbours(batch, h)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    w = torch.randn_like(out)
    (g_out,) = torch.autograd.grad((out * w).sum(), h)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), h)
    torch.testing.assert_close(g_out, g_ref, rtol=1e-10, atol=1e-12)


def test_mean_neighbours_isolated_and_one_way_nodes(engine: GraphEngine) -> None:
    x = torch.zeros(5, 1, 1)
    batch = GraphBatch.collate([GraphSample(x, torch.tensor([[0, 0, 1, 3], [1, 2, 2, 2]]))])
    h = torch.tensor([[1.0], [10.0], [100.0], [1000.0], [7.0]])
    out = engine.mean_neighbours(batch, h).squeeze(1).tolist()
    # node 0 and 3 and 4 receive nothing; node 1 <- 0; node 2 <- 0, 1, 3
    assert out == pytest.approx([0.0, 1.0, (1 + 10 + 1000) / 3, 0.0, 0.0])


def test_mean_neighbours_counts_multi_edges_and_self_loops(engine: GraphEngine) -> None:
    batch = GraphBatch.collate([GraphSample(torch.zeros(2, 1, 1), torch.tensor([[0, 0, 1], [1, 1, 1]]))])
    out = engine.mean_neighbours(batch, torch.tensor([[3.0], [9.0]])).squeeze(1).tolist()
    assert out == pytest.approx([0.0, (3 + 3 + 9) / 3])


def test_pooling_matches_loop_reference_with_gradients(engine: GraphEngine) -> None:
    batch = mixed_batch()
    h = _features(batch, seed=2).requires_grad_()
    for pool, ref_pool in ((engine.max_pool, loop_max_pool), (engine.mean_pool, loop_mean_pool)):
        out, ref = pool(batch, h), ref_pool(batch, h)
        assert out.shape == (batch.num_graphs, h.shape[1])
        torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
        (g_out,) = torch.autograd.grad(out.sum(), h)
        (g_ref,) = torch.autograd.grad(ref.sum(), h)
        torch.testing.assert_close(g_out, g_ref)


def test_pooling_with_an_empty_graph_and_unsorted_graph_ids(engine: GraphEngine) -> None:
    # graph 1 has no nodes; nodes of graphs 0 and 2 interleave (batches not made by collate)
    batch = GraphBatch(
        x=torch.zeros(4, 1, 1),
        src=torch.tensor([0]),
        dst=torch.tensor([2]),
        pos=torch.arange(4),
        graph=torch.tensor([2, 0, 2, 0]),
        num_graphs=3,
    )
    h = torch.tensor([[1.0, -5.0], [2.0, -1.0], [3.0, -7.0], [-4.0, 8.0]])
    assert engine.max_pool(batch, h).tolist() == [[2.0, 8.0], [0.0, 0.0], [3.0, -5.0]]
    assert engine.mean_pool(batch, h).tolist() == [[-1.0, 3.5], [0.0, 0.0], [2.0, -6.0]]


def test_engine_keeps_its_structure_in_the_batch_cache(engine: GraphEngine) -> None:
    batch = mixed_batch()
    h = _features(batch)
    engine.mean_neighbours(batch, h)
    engine.max_pool(batch, h)
    keys = {k for k in batch.cache if k.startswith(engine.name + ".")}
    assert keys, "the engine should cache its per-batch structure"
    before = {k: batch.cache[k] for k in keys}
    engine.mean_neighbours(batch, h)
    engine.max_pool(batch, h)
    assert all(batch.cache[k] is v for k, v in before.items())  # reused, not rebuilt


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=5), st.integers(0, 2**31 - 1))
def test_native_mean_neighbours_property(sizes: list[int], seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for n in sizes:
        e = int(torch.randint(0, 3 * n, (1,), generator=gen))
        samples.append(GraphSample(torch.zeros(n, 1, 1), torch.randint(0, n, (2, e), generator=gen)))
    batch = GraphBatch.collate(samples)
    h = torch.randn(batch.num_nodes, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(NativeEngine().mean_neighbours(batch, h), dense_mean_neighbours(batch, h))
    torch.testing.assert_close(NativeEngine().max_pool(batch, h), loop_max_pool(batch, h))


def test_get_engine_by_name_instance_and_auto() -> None:
    assert get_engine("native").name == "native"
    inst = NativeEngine()
    assert get_engine(inst) is inst
    assert get_engine(None).name == get_engine("auto").name == AVAILABLE_ENGINES[-1]
    assert engine_names() == ["auto", *sorted(ENGINES)]
    assert get_engine("native") == NativeEngine() and repr(get_engine("native")) == "NativeEngine()"


@pytest.mark.parametrize("bad", ["pyg", "DGL", "", 3])
def test_get_engine_unknown_name_lists_valid_ones(bad: object) -> None:
    with pytest.raises(ConfigError, match="Expected one of: auto, dgl, native"):
        get_engine(bad)  # type: ignore[arg-type]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", AVAILABLE_ENGINES)
def test_engines_on_cuda(name: str) -> None:
    batch = mixed_batch()
    h = _features(batch)
    gpu = batch.to("cuda")
    engine = get_engine(name)
    torch.testing.assert_close(engine.mean_neighbours(gpu, h.cuda()).cpu(), dense_mean_neighbours(batch, h))
    torch.testing.assert_close(engine.max_pool(gpu, h.cuda()).cpu(), loop_max_pool(batch, h))


@pytest.mark.parametrize("name", ["auto", *AVAILABLE_ENGINES])
def test_engines_pickle_by_name(name: str) -> None:
    import pickle

    engine = get_engine(name)
    clone = pickle.loads(pickle.dumps(engine))
    assert type(clone) is type(engine) and clone.name == engine.name and repr(clone) == repr(engine)
