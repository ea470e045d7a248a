"""Point of no return (PNR): which of 16 sub-segments holds the PNR frame (Fig. 3c)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from backpack.backbone.graph import GraphBatch, GraphSample
from backpack.tasks._clips import segment_inputs
from backpack.tasks.base import Task
from backpack.tasks.graphs import split_frames, temporal_edges
from backpack.tasks.metrics import pnr_localisation_error
from backpack.tasks.registry import register_task


@register_task
class PointOfNoReturn(Task):
    """PNR: node-level binary target (BCE), 1 at the node whose frames contain the PNR frame.

    Clips without a state change (no PNR frame) are skipped. The prediction is the centre frame
    of the highest-scoring node; the metric is its distance to the true frame in seconds.
    """

    name = "pnr"
    level = "node"
    metric_names = ("loc_error_s",)

    def __init__(self, nodes: int = 16, fps: float = 30.0) -> None:
        self.nodes, self.fps = nodes, fps

    def outputs(self, taxonomy: Any) -> dict[str, int]:
        return {"pnr": 1}

    def build(
        self, ds: Any, split: str, train: bool, rng: np.random.Generator, node_input: str = "sample"
    ) -> list[GraphSample]:
        edges = temporal_edges(self.nodes, 1)
        samples: list[GraphSample] = []
        for clip in ds.state_clips(split):
            if not clip.state_change or clip.pnr_frame is None:
                continue
            spans = split_frames(clip.start_frame, clip.end_frame, self.nodes)
            # the node containing the frame; frames outside the clip go to the nearest end node
            hit = next(
                (i for i, (lo, hi) in enumerate(spans) if lo <= clip.pnr_frame < hi),
                0 if clip.pnr_frame < spans[0][0] else self.nodes - 1,
            )
            target = torch.zeros(self.nodes)
            target[hit] = 1.0
            x = segment_inputs(ds, clip.video_uid, spans, rng if train else None, node_input)
            samples.append(
                GraphSample(
                    x=x,
                    edges=edges,
                    pos=torch.arange(self.nodes),
                    labels={
                        "pnr": target,
                        "centre": torch.tensor([(lo + hi) / 2 for lo, hi in spans], dtype=torch.float64),
                        "frame": torch.full((self.nodes,), int(clip.pnr_frame), dtype=torch.long),
                    },
                )
            )
        return samples

    def units(self, batch: GraphBatch, h: Tensor) -> Tensor:
        return h

    def targets(self, batch: GraphBatch) -> dict[str, Tensor]:
        return {k: batch.labels[k] for k in ("pnr", "centre", "frame")}

    def loss(self, logits: dict[str, Tensor], batch: GraphBatch) -> Tensor:
        target = batch.labels["pnr"].to(logits["pnr"].dtype)
        return F.binary_cross_entropy_with_logits(logits["pnr"].squeeze(-1), target)

    def score(self, logits: dict[str, Tensor], targets: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
        n = self.nodes
        return {
            "loc_error_s": pnr_localisation_error(
                logits["pnr"].reshape(-1, n),
                targets["centre"].reshape(-1, n),
                targets["frame"].reshape(-1, n)[:, 0],
                fps=self.fps,
            )
        }
