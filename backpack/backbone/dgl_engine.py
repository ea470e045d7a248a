"""The DGL graph engine: message passing with DGL's built-in functions on one batched DGLGraph.

This module imports DGL at import time; ``get_engine`` imports it only when DGL is asked for.
"""

from __future__ import annotations

import os

os.environ.setdefault("DGLBACKEND", "pytorch")

import dgl  # noqa: E402
import dgl.function as fn  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from backpack.backbone.engine import GraphEngine  # noqa: E402
from backpack.backbone.graph import GraphBatch  # noqa: E402


def dgl_graph(batch: GraphBatch) -> "dgl.DGLGraph":
    """The batch as one DGLGraph (built once per batch, on the batch's device, kept in ``batch.cache``)."""
    g = batch.cache.get("dgl.graph")
    if g is None:
        g = dgl.graph((batch.src, batch.dst), num_nodes=batch.num_nodes, device=batch.src.device)
        batch.cache["dgl.graph"] = g
    return g  # type: ignore[return-value]


def _segments(batch: GraphBatch) -> tuple[Tensor | None, Tensor]:
    """(permutation grouping nodes by graph, or None when already grouped; node count per graph)."""
    cached = batch.cache.get("dgl.segments")
    if cached is None:
        sizes = torch.bincount(batch.graph, minlength=batch.num_graphs)
        grouped = batch.num_nodes < 2 or bool((batch.graph[1:] >= batch.graph[:-1]).all())
        order = None if grouped else torch.argsort(batch.graph, stable=True)
        cached = (order, sizes)
        batch.cache["dgl.segments"] = cached
    return cached  # type: ignore[return-value]


class DGLEngine(GraphEngine):
    """Graph engine on DGL: ``update_all(copy_u, mean)`` for neighbour means, segment max/mean pooling.

    Shapes: h [N, C] -> mean_neighbours [N, C]; max_pool / mean_pool [num_graphs, C].
    """

    name = "dgl"

    def mean_neighbours(self, batch: GraphBatch, h: Tensor) -> Tensor:
        g = dgl_graph(batch)
        with g.local_scope():
            g.srcdata["h"] = h
            g.update_all(fn.copy_u("h", "m"), fn.mean("m", "h"))  # isolated nodes get 0
            return g.dstdata["h"]

    def _pool(self, batch: GraphBatch, h: Tensor, reducer: str) -> Tensor:
        order, sizes = _segments(batch)
        if order is not None:
            h = h.index_select(0, order)
        return dgl.ops.segment_reduce(sizes, h, reducer)  # empty segments give 0

    def max_pool(self, batch: GraphBatch, h: Tensor) -> Tensor:
        return self._pool(batch, h, "max")

    def mean_pool(self, batch: GraphBatch, h: Tensor) -> Tensor:
        return self._pool(batch, h, "mean")
