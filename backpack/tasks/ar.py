"""Action recognition (AR): windows of consecutive actions, one node per action (Fig. 3a)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from backpack.backbone.graph import GraphSample
from backpack.tasks._clips import group_by_clip, label_or_ignore, segment_inputs
from backpack.tasks.base import MaskedVerbNounTask
from backpack.tasks.graphs import temporal_edges
from backpack.tasks.metrics import top1_accuracy
from backpack.tasks.registry import register_task


def windows(n: int, size: int) -> list[tuple[int, np.ndarray]]:
    """Windows covering ``n`` actions: (start, mask of the nodes seen for the first time).

    Windows start every ``size`` actions and the last one is aligned to the end of the clip, so
    every window is full size (when ``n >= size``) and every action is covered. The mask marks each
    action exactly once, so evaluation counts every action once.
    """
    if n <= size:
        return [(0, np.ones(n, dtype=bool))]
    starts = list(range(0, n - size, size)) + [n - size]
    out, covered = [], 0
    for s in starts:
        mask = np.arange(s, s + size) >= covered
        covered = s + size
        out.append((s, mask))
    return out


@register_task
class ActionRecognition(MaskedVerbNounTask):
    """AR: verb and noun of every action node.

    Windows of ``window`` actions of a clip; edges link nodes at most ``tau`` apart (both
    directions). In training every node is labelled (overlapping windows label an action twice);
    in evaluation each action is a unit exactly once (``mask``).
    """

    name = "ar"
    level = "node"
    metric_names = ("verb_top1", "noun_top1")

    def __init__(self, window: int = 9, tau: int = 1) -> None:
        self.window, self.tau = window, tau

    def outputs(self, taxonomy: Any) -> dict[str, int]:
        return {"verb": len(taxonomy.verbs), "noun": len(taxonomy.nouns)}

    def eval_actions(self, ds: Any, split: str) -> list[Any]:
        """The actions that are evaluation units, in the order of their rows (``build(train=False)``)."""
        out: list[Any] = []
        for clip in group_by_clip(ds.action_clips(split)):
            for start, first in windows(len(clip), self.window):
                out.extend(a for a, seen in zip(clip[start : start + self.window], first) if seen)
        return out

    def build(
        self, ds: Any, split: str, train: bool, rng: np.random.Generator, node_input: str = "sample"
    ) -> list[GraphSample]:
        samples: list[GraphSample] = []
        for clip in group_by_clip(ds.action_clips(split)):
            x = segment_inputs(
                ds,
                clip[0].video_uid,
                [(a.start_frame, a.end_frame) for a in clip],
                rng if train else None,
                node_input,
            )
            verbs = torch.tensor([label_or_ignore(a.verb) for a in clip], dtype=torch.long)
            nouns = torch.tensor([label_or_ignore(a.noun) for a in clip], dtype=torch.long)
            for start, first in windows(len(clip), self.window):
                n = min(self.window, len(clip))
                sl = slice(start, start + n)
                mask = torch.ones(n, dtype=torch.bool) if train else torch.from_numpy(first)
                samples.append(
                    GraphSample(
                        x=x[sl],
                        edges=temporal_edges(n, self.tau),
                        pos=torch.arange(n),
                        labels={"verb": verbs[sl], "noun": nouns[sl], "mask": mask},
                    )
                )
        return samples

    def score(self, logits: dict[str, Tensor], targets: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
        return {
            "verb_top1": top1_accuracy(logits["verb"], targets["verb"]),
            "noun_top1": top1_accuracy(logits["noun"], targets["noun"]),
        }
