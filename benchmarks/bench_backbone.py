"""Training throughput of the temporal backbone: DGL engine vs native engine (graphs/s, and their ratio).

One step = forward + backward of the backbone (plus the engine's max-pool readout) on a batch of 16
AR graphs (9 actions each, chain edges, 3 sub-segments of 1536-d features), rebuilding the engine's
per-batch structure every step as training on fresh batches does. Run for real with
``make bench``; under CI (``--benchmark-disable``) or with ``BACKPACK_BENCH_SMALL=1`` every case runs
once at a tiny size as a smoke test. DGL cases skip where DGL cannot load (the modern env).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import pytest
import torch

from backpack.backbone import GraphBatch, GraphSample, TemporalBackbone, dgl_available, get_engine

GRAPHS, NODES, SUB_SEGMENTS, IN_DIM = 16, 9, 3, 1536
HIDDENS = [256, 1024]
ENGINES = ["native", "dgl"]


def _small(benchmark) -> bool:  # type: ignore[no-untyped-def]
    return bool(benchmark.disabled) or os.environ.get("BACKPACK_BENCH_SMALL") == "1"


def _need(engine: str) -> None:
    if engine == "dgl" and not dgl_available():
        pytest.skip("DGL is not importable in this environment (the native engine runs alone here)")


def ar_batch(graphs: int, in_dim: int, seed: int = 0) -> GraphBatch:
    """``graphs`` AR windows of NODES actions, each linked to the previous and the next one."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.arange(NODES - 1)
    edges = torch.stack((torch.cat((a, a + 1)), torch.cat((a + 1, a))))
    return GraphBatch.collate(
        [GraphSample(torch.randn(NODES, SUB_SEGMENTS, in_dim, generator=gen), edges) for _ in range(graphs)]
    )


def make_step(
    engine: str, hidden: int, small: bool, scope: str = "backbone"
) -> tuple[Callable[[], float], int]:
    """A closure doing one forward+backward step, and the number of graphs per step.

    ``scope="backbone"``: the whole backbone; ``scope="engine"``: only what the engine does in it
    (2 neighbour means and the max-pool readout, fwd+bwd, structure rebuilt), to isolate the engines.
    """
    graphs, in_dim = (4, 32) if small else (GRAPHS, IN_DIM)
    hidden = 16 if small else hidden
    torch.manual_seed(0)
    model = TemporalBackbone(in_dim, hidden=hidden, layers=2, sub_segments=SUB_SEGMENTS, engine=engine)
    batch = ar_batch(graphs, in_dim)
    eng = get_engine(engine)
    feats = torch.randn(batch.num_nodes, hidden, requires_grad=True)

    def engine_step() -> float:
        batch.cache.clear()
        h = eng.mean_neighbours(batch, eng.mean_neighbours(batch, feats))
        loss = h.square().mean() + eng.max_pool(batch, h).mean()
        loss.backward()
        feats.grad = None
        return float(loss.detach())

    if scope == "engine":
        return engine_step, graphs

    def step() -> float:
        batch.cache.clear()  # a fresh batch every step in training: rebuild the engine's structure
        model.zero_grad(set_to_none=True)
        h = model(batch)
        loss = h.square().mean() + eng.max_pool(batch, h).mean()
        loss.backward()
        return float(loss.detach())

    return step, graphs


@pytest.mark.parametrize("hidden", HIDDENS)
@pytest.mark.parametrize("engine", ENGINES)
def test_backbone_train_step(benchmark, engine: str, hidden: int) -> None:  # type: ignore[no-untyped-def]
    _need(engine)
    step, graphs = make_step(engine, hidden, _small(benchmark))
    step()  # warm-up (allocator, DGL kernels)
    loss = benchmark.pedantic(step, rounds=1 if _small(benchmark) else 30, iterations=1, warmup_rounds=0)
    assert loss is None or loss == loss  # finite (not NaN) when it ran
    benchmark.extra_info.update({"engine": engine, "hidden": hidden, "graphs_per_step": graphs})
    if not benchmark.disabled and benchmark.stats is not None:
        benchmark.extra_info["graphs_per_s"] = graphs / benchmark.stats.stats.mean


@pytest.mark.parametrize("scope", ["backbone", "engine"])
@pytest.mark.parametrize("hidden", HIDDENS)
def test_backbone_engine_ratio(benchmark, hidden: int, scope: str) -> None:  # type: ignore[no-untyped-def]
    """Both engines in one run, rounds interleaved so that machine drift hits both alike."""
    _need("dgl")
    small = _small(benchmark)
    steps = {name: make_step(name, hidden, small, scope) for name in ENGINES}
    times: dict[str, list[float]] = {name: [] for name in ENGINES}
    losses: dict[str, float] = {}

    def pair() -> None:
        seed = len(times["native"])
        order = ENGINES if seed % 2 == 0 else ENGINES[::-1]  # alternate who goes first
        for name in order:
            step = steps[name][0]
            torch.manual_seed(seed)  # same dropout masks for both engines
            t0 = time.perf_counter()
            losses[name] = step()
            times[name].append(time.perf_counter() - t0)

    pair()  # warm-up, not recorded
    for ts in times.values():
        ts.clear()
    benchmark.pedantic(
        pair, rounds=1 if small else (30 if scope == "backbone" else 300), iterations=1, warmup_rounds=0
    )
    # same weights, same batch: the two engines must compute the same loss
    assert abs(losses["dgl"] - losses["native"]) <= 1e-4 * max(1.0, abs(losses["native"]))
    graphs = steps["native"][1]
    rate = {name: graphs / statistics.median(ts) for name, ts in times.items()}
    benchmark.extra_info.update(
        {
            "scope": scope,
            "hidden": hidden,
            "graphs_per_step": graphs,
            "native_graphs_per_s": rate["native"],
            "dgl_graphs_per_s": rate["dgl"],
            "dgl_over_native": rate["dgl"] / rate["native"],
        }
    )
    assert all(r > 0 for r in rate.values())
