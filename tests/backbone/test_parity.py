"""DGL engine vs native engine: same weights, same batch -> same outputs and gradients (within 1e-5)."""

from __future__ import annotations

import copy

import pytest
import torch

from backpack.backbone import GraphBatch, backbone_names, build_backbone, dgl_available, get_engine
from tests.backbone.bb_graphs import mixed_samples

pytestmark = [pytest.mark.dgl, pytest.mark.skipif(not dgl_available(), reason="DGL is not importable here")]


def _run(
    model: torch.nn.Module, engine: str, batch: GraphBatch
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    model = copy.deepcopy(model)
    model.engine = engine
    model.zero_grad()
    x = batch.x.clone().requires_grad_()
    fresh = GraphBatch(x, batch.src, batch.dst, batch.pos, batch.graph, batch.num_graphs, batch.labels)
    h = model(fresh)
    pooled = model.engine.max_pool(fresh, h)  # the OSCC readout goes through the engine too
    loss = (h * torch.linspace(-1, 1, h.shape[1])).sum() + pooled.square().sum()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return torch.cat([h.detach().flatten(), pooled.detach().flatten()]), grads, x.grad.detach()


@pytest.mark.parametrize("kind", backbone_names())
@pytest.mark.parametrize("layers", [1, 3])
def test_backbone_outputs_and_gradients_match(kind: str, layers: int) -> None:
    torch.manual_seed(0)
    model = build_backbone(kind, in_dim=24, hidden=32, layers=layers, sub_segments=3, engine="native").eval()
    # AR chains, an LTA graph (22 nodes, dense observed <-> future edges), isolated nodes, one-way edges
    batch = GraphBatch.collate(mixed_samples(seed=5, dim=24))
    out_n, grads_n, gx_n = _run(model, "native", batch)
    out_d, grads_d, gx_d = _run(model, "dgl", batch)
    torch.testing.assert_close(out_d, out_n, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx_d, gx_n, rtol=1e-5, atol=1e-5)
    assert grads_n.keys() == grads_d.keys()
    for name in grads_n:
        torch.testing.assert_close(grads_d[name], grads_n[name], rtol=1e-5, atol=1e-5, msg=name)


def test_training_steps_stay_in_parity() -> None:
    # a few Adam steps on each engine from the same start must land on the same weights
    torch.manual_seed(1)
    start = build_backbone("graph", in_dim=16, hidden=32, layers=2, engine="native", dropout=0.0)
    batch = GraphBatch.collate(mixed_samples(seed=9, dim=16))
    final = {}
    for engine in ("native", "dgl"):
        model = copy.deepcopy(start)
        model.engine = engine
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(3):
            opt.zero_grad()
            h = model(batch)
            (h.square().mean() + get_engine(engine).max_pool(batch, h).mean()).backward()
            opt.step()
        final[engine] = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close(final["dgl"], final["native"], rtol=1e-5, atol=1e-5)


def test_engine_primitives_match_on_permuted_nodes() -> None:
    # nodes of different graphs interleaved (not what collate makes): both engines still agree
    gen = torch.Generator().manual_seed(4)
    batch = GraphBatch.collate(mixed_samples(seed=4))
    perm = torch.randperm(batch.num_nodes, generator=gen)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(batch.num_nodes)
    shuffled = GraphBatch(
        batch.x[perm], inv[batch.src], inv[batch.dst], batch.pos[perm], batch.graph[perm], batch.num_graphs
    )
    h = torch.randn(batch.num_nodes, 6, generator=gen)
    for prim in ("mean_neighbours", "max_pool", "mean_pool"):
        a = getattr(get_engine("native"), prim)(shuffled, h)
        b = getattr(get_engine("dgl"), prim)(shuffled, h)
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-6, msg=prim)


def test_device_without_dgl_support_strict_raises_auto_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # pretend this DGL build cannot use the CPU, as the CPU-only PyPI wheel cannot use CUDA
    from backpack.backbone import dgl_engine
    from backpack.errors import ConfigError

    monkeypatch.setitem(dgl_engine._DEVICE_OK, "cpu", False)
    batch = GraphBatch.collate(mixed_samples(seed=2))
    h = torch.randn(batch.num_nodes, 4, generator=torch.Generator().manual_seed(0))
    strict = get_engine("dgl")
    with pytest.raises(
        ConfigError, match="Graph engine 'dgl' cannot run on device 'cpu'.*--graph-engine native"
    ):
        strict.mean_neighbours(batch, h)
    auto = get_engine("auto")
    assert auto.name == "dgl" and repr(auto) == "DGLEngine(strict=False)"
    with caplog.at_level("WARNING", logger="backpack.backbone.dgl_engine"):
        out = auto.mean_neighbours(batch, h)
        pooled = auto.max_pool(batch, h)
    native = get_engine("native")
    torch.testing.assert_close(out, native.mean_neighbours(batch, h))
    torch.testing.assert_close(pooled, native.max_pool(batch, h))
    assert "dgl.graph" not in batch.cache  # DGL was not used
    assert sum("no cpu support" in r.getMessage() for r in caplog.records) == 1  # warned once
