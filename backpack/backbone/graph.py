"""Temporal graphs as plain tensors, independent of the graph engine.

A :class:`GraphSample` is one task graph (Fig. 3 of the paper); :meth:`GraphBatch.collate` stacks
samples into one disconnected graph, as DGL's ``dgl.batch`` does, keeping for every node the index
of its graph so that engines can pool per graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from backpack.errors import DataError, invalid


@dataclass
class GraphSample:
    """One temporal graph.

    Shapes: x [n, S, D] (S sub-segment features per node), edges [2, e] (src, dst), integer node ids
    in [0, n), pos [n] (temporal position of each node; defaults to 0..n-1), labels: task-defined tensors.

    Raises
    ------
    DataError
        For a wrongly shaped ``x``, ``edges`` or ``pos``, or edges naming nodes outside [0, n).
    """

    x: Tensor
    edges: Tensor
    pos: Tensor | None = None
    labels: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.x.dim() != 3:
            raise DataError(
                invalid("x.shape", "GraphSample", "[nodes, sub_segments, dim]", list(self.x.shape))
            )
        if self.edges.dim() != 2 or self.edges.shape[0] != 2:
            raise DataError(invalid("edges.shape", "GraphSample", "[2, edges]", list(self.edges.shape)))
        if self.edges.is_floating_point() or self.edges.is_complex() or self.edges.dtype == torch.bool:
            raise DataError(invalid("edges.dtype", "GraphSample", "an integer dtype", self.edges.dtype))
        n = self.num_nodes
        if self.edges.numel() and (int(self.edges.min()) < 0 or int(self.edges.max()) >= n):
            raise DataError(
                invalid(
                    "edges",
                    "GraphSample",
                    f"node ids in [0, {n})",
                    f"ids in [{int(self.edges.min())}, {int(self.edges.max())}]",
                )
            )
        if self.pos is None:
            self.pos = torch.arange(n)
        elif self.pos.shape != (n,):
            raise DataError(invalid("pos.shape", "GraphSample", f"[{n}]", list(self.pos.shape)))

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.edges.shape[1])


@dataclass
class GraphBatch:
    """Several graphs stacked into one disconnected graph.

    Shapes: x [N, S, D], src/dst [E] (global node ids), pos [N], graph [N] (graph id of each node,
    non-decreasing after ``collate``), labels: per-sample label tensors concatenated along dim 0
    (node-level labels stay aligned with nodes, graph-level labels with graphs; 0-d labels become
    one entry per graph).
    """

    x: Tensor
    src: Tensor
    dst: Tensor
    pos: Tensor
    graph: Tensor
    num_graphs: int
    labels: dict[str, Tensor] = field(default_factory=dict)
    # engine-specific structure (degrees, a DGLGraph, ...), built lazily by the engines and keyed
    # "<engine>.<what>"; dropped by ``to`` because it lives on one device
    cache: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.src.shape[0])

    @property
    def device(self) -> torch.device:
        return self.x.device

    @staticmethod
    def collate(samples: list[GraphSample]) -> GraphBatch:
        """Stack ``samples`` into one batch (a ``collate_fn`` for ``torch.utils.data.DataLoader``).

        Raises
        ------
        DataError
            For an empty list, samples whose node features differ in shape [S, D], or samples
            whose label names differ.
        """
        if not samples:
            raise DataError("Cannot collate an empty list of graphs. Expected at least 1 GraphSample. Got 0.")
        first = samples[0]
        feat_shape, names = tuple(first.x.shape[1:]), set(first.labels)
        for i, s in enumerate(samples):
            if tuple(s.x.shape[1:]) != feat_shape:
                raise DataError(
                    invalid("x.shape[1:]", f"graph {i} of the batch", list(feat_shape), list(s.x.shape[1:]))
                )
            if set(s.labels) != names:
                raise DataError(invalid("labels", f"graph {i} of the batch", sorted(names), sorted(s.labels)))
        sizes = torch.tensor([s.num_nodes for s in samples], dtype=torch.long)
        offsets = torch.cumsum(sizes, 0) - sizes
        edge_counts = torch.tensor([s.num_edges for s in samples], dtype=torch.long)
        edges = torch.cat([s.edges.long() for s in samples], dim=1)
        # one vectorised shift instead of a per-sample add: every edge gets its graph's node offset
        edges = edges + torch.repeat_interleave(offsets, edge_counts).unsqueeze(0)
        x = torch.cat([s.x for s in samples], dim=0)
        pos = torch.cat([s.pos for s in samples]).long()  # type: ignore[misc]
        graph = torch.repeat_interleave(torch.arange(len(samples)), sizes)
        labels = {name: torch.cat([_as_rows(s.labels[name]) for s in samples]) for name in first.labels}
        return GraphBatch(x, edges[0].contiguous(), edges[1].contiguous(), pos, graph, len(samples), labels)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> GraphBatch:
        """Move every tensor to ``device`` (engine caches are dropped and rebuilt there)."""

        def move(t: Tensor) -> Tensor:
            return t.to(device, non_blocking=non_blocking)

        return GraphBatch(
            move(self.x),
            move(self.src),
            move(self.dst),
            move(self.pos),
            move(self.graph),
            self.num_graphs,
            {k: move(v) for k, v in self.labels.items()},
        )

    def pin_memory(self) -> GraphBatch:
        """Page-locked copy (DataLoader(pin_memory=True) calls this) for faster host-to-GPU copies."""
        return GraphBatch(
            self.x.pin_memory(),
            self.src.pin_memory(),
            self.dst.pin_memory(),
            self.pos.pin_memory(),
            self.graph.pin_memory(),
            self.num_graphs,
            {k: v.pin_memory() for k, v in self.labels.items()},
        )


def _as_rows(t: Tensor) -> Tensor:
    """A label as rows to concatenate: a 0-d (graph-level) label becomes one row."""
    return t.reshape(1) if t.dim() == 0 else t
