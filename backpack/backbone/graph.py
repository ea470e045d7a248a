"""Temporal graphs as plain tensors, independent of the graph engine.

A :class:`GraphSample` is one task graph (Fig. 3 of the paper); :meth:`GraphBatch.collate` stacks
samples into one disconnected graph, as DGL's ``dgl.batch`` does, keeping for every node the index
of its graph so that engines can pool per graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class GraphSample:
    """One temporal graph.

    Shapes: x [n, S, D] (S sub-segment features per node), edges [2, e] (src, dst),
    pos [n] (temporal position of each node), labels: task-defined tensors.
    """

    x: Tensor
    edges: Tensor
    pos: Tensor | None = None
    labels: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.x.dim() != 3:
            raise ValueError(f"GraphSample.x must be [nodes, sub_segments, dim]. Got shape {tuple(self.x.shape)}.")
        if self.edges.dim() != 2 or self.edges.shape[0] != 2:
            raise ValueError(f"GraphSample.edges must be [2, edges]. Got shape {tuple(self.edges.shape)}.")
        if self.pos is None:
            self.pos = torch.arange(self.x.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])


@dataclass
class GraphBatch:
    """Several graphs stacked into one disconnected graph.

    Shapes: x [N, S, D], src/dst [E] (global node ids), pos [N], graph [N] (graph id of each node),
    labels: per-sample label tensors concatenated along dim 0 (node-level labels stay aligned with
    nodes, graph-level labels with graphs).
    """

    x: Tensor
    src: Tensor
    dst: Tensor
    pos: Tensor
    graph: Tensor
    num_graphs: int
    labels: dict[str, Tensor] = field(default_factory=dict)
    # engine-specific cached structure (e.g. a DGLGraph); built lazily by the engine
    cache: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @staticmethod
    def collate(samples: list[GraphSample]) -> "GraphBatch":
        """Stack ``samples`` into one batch (a ``collate_fn`` for ``torch.utils.data.DataLoader``)."""
        if not samples:
            raise ValueError("Cannot collate an empty list of graphs.")
        offsets, total = [], 0
        for s in samples:
            offsets.append(total)
            total += s.num_nodes
        x = torch.cat([s.x for s in samples], dim=0)
        edges = torch.cat([s.edges + off for s, off in zip(samples, offsets)], dim=1)
        pos = torch.cat([s.pos for s in samples])  # type: ignore[misc]
        graph = torch.cat([torch.full((s.num_nodes,), i, dtype=torch.long) for i, s in enumerate(samples)])
        labels: dict[str, Tensor] = {}
        for name in samples[0].labels:
            labels[name] = torch.cat([s.labels[name].reshape(-1, *s.labels[name].shape[1:]) if s.labels[name].dim() else s.labels[name].reshape(1) for s in samples])
        return GraphBatch(x, edges[0].long(), edges[1].long(), pos.long(), graph, len(samples), labels)

    def to(self, device: torch.device | str) -> "GraphBatch":
        """Move every tensor to ``device`` (engine caches are dropped and rebuilt there)."""
        return GraphBatch(
            self.x.to(device), self.src.to(device), self.dst.to(device), self.pos.to(device),
            self.graph.to(device), self.num_graphs, {k: v.to(device) for k, v in self.labels.items()},
        )
