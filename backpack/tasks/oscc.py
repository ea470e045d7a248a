"""Object state change classification (OSCC): a clip as a chain of sub-segments (Fig. 3c)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from backpack.backbone.graph import GraphBatch, GraphSample
from backpack.tasks._clips import segment_inputs
from backpack.tasks.base import Task
from backpack.tasks.graphs import split_frames, temporal_edges
from backpack.tasks.metrics import IGNORE_INDEX, top1_accuracy
from backpack.tasks.registry import register_task


def max_pool(batch: GraphBatch, h: Tensor) -> Tensor:
    """Max over the nodes of each graph, in plain torch (works with every engine).

    Shapes: h [N, C] -> [num_graphs, C].
    """
    out = h.new_full((batch.num_graphs, h.shape[1]), float("-inf"))
    index = batch.graph.to(h.device).unsqueeze(1).expand_as(h)
    return out.scatter_reduce(0, index, h, reduce="amax", include_self=True)


def _state_label(state_change: bool | None) -> int:
    # an unlabelled clip (a test split) is ignored by the loss and the accuracy
    return IGNORE_INDEX if state_change is None else int(bool(state_change))


@register_task
class StateChangeClassification(Task):
    """OSCC: does the clip show an object state change? Graph-level, max pooling over nodes."""

    name = "oscc"
    level = "graph"
    metric_names = ("accuracy",)

    def __init__(self, nodes: int = 4) -> None:
        self.nodes = nodes

    def outputs(self, taxonomy: Any) -> dict[str, int]:
        return {"state": 2}

    def build(
        self, ds: Any, split: str, train: bool, rng: np.random.Generator, node_input: str = "sample"
    ) -> list[GraphSample]:
        edges = temporal_edges(self.nodes, 1)
        samples: list[GraphSample] = []
        for clip in ds.state_clips(split):
            spans = split_frames(clip.start_frame, clip.end_frame, self.nodes)
            x = segment_inputs(ds, clip.video_uid, spans, rng if train else None, node_input)
            samples.append(
                GraphSample(
                    x=x,
                    edges=edges,
                    pos=torch.arange(self.nodes),
                    labels={"state": torch.tensor(_state_label(clip.state_change), dtype=torch.long)},
                )
            )
        return samples

    def units(self, batch: GraphBatch, h: Tensor) -> Tensor:
        return max_pool(batch, h)

    def targets(self, batch: GraphBatch) -> dict[str, Tensor]:
        return {"state": batch.labels["state"]}

    def score(self, logits: dict[str, Tensor], targets: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
        return {"accuracy": top1_accuracy(logits["state"], targets["state"])}
