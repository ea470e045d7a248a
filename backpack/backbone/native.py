"""The native graph engine: the backbone's message passing in plain torch (no DGL).

Works on any torch >= 2.2 and any device. Per-batch structure (in-degrees, node counts, the
node -> slot map used by max pooling) is computed once and kept in ``batch.cache``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from backpack.backbone.engine import GraphEngine
from backpack.backbone.graph import GraphBatch


def _cached(batch: GraphBatch, key: str, build) -> Tensor:  # type: ignore[no-untyped-def]
    value = batch.cache.get(key)
    if value is None:
        value = build()
        batch.cache[key] = value
    return value  # type: ignore[return-value]


def in_degree(batch: GraphBatch) -> Tensor:
    """In-degree of every node as a float column [N, 1], clamped at 1 (isolated nodes divide by 1)."""

    def build() -> Tensor:
        deg = torch.bincount(batch.dst, minlength=batch.num_nodes).clamp_(min=1)
        return deg.to(batch.x.dtype if batch.x.is_floating_point() else torch.float32).unsqueeze(1)

    return _cached(batch, "native.in_degree", build)


def graph_sizes(batch: GraphBatch) -> Tensor:
    """Number of nodes of every graph [num_graphs] (long)."""
    return _cached(batch, "native.sizes", lambda: torch.bincount(batch.graph, minlength=batch.num_graphs))


def node_slots(batch: GraphBatch) -> tuple[Tensor, int]:
    """Rank of every node inside its graph [N] and the largest graph size (for dense padding)."""

    def build() -> Tensor:
        sizes = graph_sizes(batch)
        starts = torch.cumsum(sizes, 0) - sizes
        order = torch.argsort(batch.graph, stable=True)  # nodes grouped by graph, original order kept
        slots = torch.empty_like(batch.graph)
        slots[order] = torch.arange(batch.num_nodes, device=batch.graph.device) - starts[batch.graph[order]]
        return slots

    slots = _cached(batch, "native.slots", build)
    width = batch.cache.get("native.width")
    if width is None:
        sizes = graph_sizes(batch)
        width = int(sizes.max()) if sizes.numel() else 0
        batch.cache["native.width"] = width
    return slots, int(width)  # type: ignore[arg-type]


class NativeEngine(GraphEngine):
    """Graph engine in plain torch: ``index_add_`` for neighbour means, dense padding for max pooling.

    Shapes: h [N, C] -> mean_neighbours [N, C]; max_pool / mean_pool [num_graphs, C].
    """

    name = "native"

    def mean_neighbours(self, batch: GraphBatch, h: Tensor) -> Tensor:
        out = h.new_zeros(h.shape).index_add_(0, batch.dst, h.index_select(0, batch.src))
        return out / in_degree(batch).to(h.dtype)

    def max_pool(self, batch: GraphBatch, h: Tensor) -> Tensor:
        # Dense [G, width, C] padded with -inf, then max over the slot axis: like DGL's segment max,
        # the gradient goes to one arg-max node per channel (scatter_reduce "amax" would split ties).
        slots, width = node_slots(batch)
        dense = h.new_full((batch.num_graphs, max(width, 1), h.shape[1]), float("-inf"))
        dense[batch.graph, slots] = h
        out = dense.max(dim=1).values
        if width == 0 or batch.cache.get("native.has_empty", True):
            empty = graph_sizes(batch) == 0
            batch.cache["native.has_empty"] = bool(empty.any())
            out = out.masked_fill(empty.unsqueeze(1), 0.0)
        return out

    def mean_pool(self, batch: GraphBatch, h: Tensor) -> Tensor:
        out = h.new_zeros((batch.num_graphs, h.shape[1])).index_add_(0, batch.graph, h)
        return out / graph_sizes(batch).clamp(min=1).to(h.dtype).unsqueeze(1)
