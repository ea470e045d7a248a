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
from backpack.tasks.metrics import PNR_PLACEMENTS, pnr_localisation_error, pnr_node_frames, pnr_target_node
from backpack.tasks.registry import register_task

FPS = 30.0  # Ego4D canonical videos are 30 fps (EgoPack data/ego4d.py divides by 30 too)


@register_task
class PointOfNoReturn(Task):
    """PNR: node-level binary target (BCE) over ``nodes`` sub-segments of the clip.

    Official protocol (``placement="start"``, the default): node i stands for frame
    ``start + (end - start) * i / nodes`` (the start of its span), the positive node is the one whose
    start is nearest the PNR frame, and the error is |placed frame - PNR frame| / ``fps`` over the
    clips with a state change. ``placement="centre"`` is backpack's former protocol (the node that
    contains the frame, placed at its centre); its metric is reported as ``loc_error_s_centre``.
    Labelled clips without a state change are skipped; unlabelled clips (a test split) are kept
    with an empty target so that ``predict`` can place their PNR.
    """

    name = "pnr"
    level = "node"
    metric_names = ("loc_error_s",)

    def __init__(self, nodes: int = 16, fps: float = FPS, placement: str = "start") -> None:
        if placement not in PNR_PLACEMENTS:
            raise ValueError(f"Unknown PNR placement {placement!r}. Expected one of {PNR_PLACEMENTS}.")
        self.nodes, self.fps, self.placement = nodes, fps, placement
        self.metric_key = "loc_error_s" if placement == "start" else f"loc_error_s_{placement}"
        self.metric_names = (self.metric_key,)

    def outputs(self, taxonomy: Any) -> dict[str, int]:
        return {"pnr": 1}

    def eval_clips(self, ds: Any, split: str) -> list[Any]:
        """The clips that get a graph, in :meth:`build` order: the positives, or every unlabelled clip."""
        return [c for c in ds.state_clips(split) if c.state_change is None or c.pnr_frame is not None]

    def _target(self, clip: Any, spans: list[tuple[int, int]]) -> int:
        if self.placement == "start":
            return pnr_target_node(clip.start_frame, clip.end_frame, clip.pnr_frame, self.nodes)
        # the node containing the frame; frames outside the clip go to the nearest end node
        return next(
            (i for i, (lo, hi) in enumerate(spans) if lo <= clip.pnr_frame < hi),
            0 if clip.pnr_frame < spans[0][0] else self.nodes - 1,
        )

    def build(
        self, ds: Any, split: str, train: bool, rng: np.random.Generator, node_input: str = "sample"
    ) -> list[GraphSample]:
        edges = temporal_edges(self.nodes, 1)
        samples: list[GraphSample] = []
        for clip in self.eval_clips(ds, split):
            spans = split_frames(clip.start_frame, clip.end_frame, self.nodes)
            target = torch.zeros(self.nodes)
            if clip.pnr_frame is not None:
                target[self._target(clip, spans)] = 1.0
            placed = pnr_node_frames(clip.start_frame, clip.end_frame, self.nodes, self.placement)
            x = segment_inputs(ds, clip.video_uid, spans, rng if train else None, node_input)
            frame = -1 if clip.pnr_frame is None else int(clip.pnr_frame)  # -1: unlabelled
            samples.append(
                GraphSample(
                    x=x,
                    edges=edges,
                    pos=torch.arange(self.nodes),
                    labels={
                        "pnr": target,
                        "placed": torch.tensor(placed, dtype=torch.float64),
                        "frame": torch.full((self.nodes,), frame, dtype=torch.long),
                    },
                )
            )
        return samples

    def units(self, batch: GraphBatch, h: Tensor) -> Tensor:
        return h

    def targets(self, batch: GraphBatch) -> dict[str, Tensor]:
        return {k: batch.labels[k] for k in ("pnr", "placed", "frame")}

    def loss(self, logits: dict[str, Tensor], batch: GraphBatch) -> Tensor:
        target = batch.labels["pnr"].to(logits["pnr"].dtype)
        scores = logits["pnr"].squeeze(-1)
        labelled = batch.labels["frame"] >= 0
        if bool(labelled.all()):
            return F.binary_cross_entropy_with_logits(scores, target)
        return F.binary_cross_entropy_with_logits(scores[labelled], target[labelled])

    def empty_scores(self) -> dict[str, float]:
        return {self.metric_key: float("nan"), "clips": 0.0, "fps": float(self.fps)}

    def score(self, logits: dict[str, Tensor], targets: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
        n = self.nodes
        frames = targets["frame"].reshape(-1, n)[:, 0]
        keep = frames >= 0  # positives only: the unlabelled clips of a test split have no PNR
        return {
            self.metric_key: pnr_localisation_error(
                logits["pnr"].reshape(-1, n)[keep],
                targets["placed"].reshape(-1, n)[keep],
                frames[keep],
                self.fps,
            ),
            "clips": float(int(keep.sum())),
            "fps": float(self.fps),
        }
