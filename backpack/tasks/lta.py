"""Long-term action anticipation (LTA): observed actions + Z future nodes (Fig. 3b)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from backpack.backbone.graph import GraphSample
from backpack.tasks._clips import group_by_clip, segment_inputs
from backpack.tasks.base import MaskedVerbNounTask
from backpack.tasks.graphs import anticipation_edges
from backpack.tasks.metrics import IGNORE_INDEX, lta_edit_distances
from backpack.tasks.registry import register_task


@register_task
class LongTermAnticipation(MaskedVerbNounTask):
    """LTA: verb and noun of each of the Z future actions after ``observed`` actions.

    A sample needs ``observed + min_future`` consecutive actions of one clip (default 2 + 10). When
    fewer than Z actions follow, the graph still has Z future nodes (edges never depend on labels)
    and the missing labels are padded with ``-100``: the loss ignores them and the edit distance is
    computed on the labelled prefix (see :func:`~backpack.tasks.metrics.edit_distance`). Future nodes
    start from the mean of the observed nodes' inputs; edges come from
    :func:`~backpack.tasks.graphs.anticipation_edges` (never from labels). Samples start every
    ``train_stride`` actions in training and every ``eval_stride`` in evaluation.
    """

    name = "lta"
    level = "node"
    metric_names = ("verb_ed", "noun_ed", "action_ed")

    def __init__(
        self,
        observed: int = 2,
        future: int = 20,
        train_stride: int = 1,
        eval_stride: int = 4,
        k: int = 5,
        min_future: int = 10,
    ) -> None:
        self.observed, self.future, self.k, self.min_future = observed, future, k, min_future
        self.train_stride, self.eval_stride = train_stride, eval_stride

    def outputs(self, taxonomy: Any) -> dict[str, int]:
        return {"verb": len(taxonomy.verbs), "noun": len(taxonomy.nouns)}

    def build(
        self, ds: Any, split: str, train: bool, rng: np.random.Generator, node_input: str = "sample"
    ) -> list[GraphSample]:
        n_obs, z = self.observed, self.future
        edges = anticipation_edges(n_obs, z)
        mask = torch.cat([torch.zeros(n_obs, dtype=torch.bool), torch.ones(z, dtype=torch.bool)])
        stride = self.train_stride if train else self.eval_stride
        samples: list[GraphSample] = []
        for clip in group_by_clip(ds.action_clips(split)):
            if len(clip) < n_obs + self.min_future:
                continue
            pad = [IGNORE_INDEX] * z  # labels past the end of the clip
            verbs = torch.tensor([a.verb for a in clip] + pad, dtype=torch.long)
            nouns = torch.tensor([a.noun for a in clip] + pad, dtype=torch.long)
            for s in range(0, len(clip) - n_obs - self.min_future + 1, stride):
                obs = clip[s : s + n_obs]
                x_obs = segment_inputs(
                    ds,
                    obs[0].video_uid,
                    [(a.start_frame, a.end_frame) for a in obs],
                    rng if train else None,
                    node_input,
                )
                x = torch.cat([x_obs, x_obs.mean(dim=0, keepdim=True).expand(z, -1, -1)])
                sl = slice(s, s + n_obs + z)
                samples.append(
                    GraphSample(
                        x=x.contiguous(),
                        edges=edges,
                        pos=torch.arange(n_obs + z),
                        labels={"verb": verbs[sl], "noun": nouns[sl], "mask": mask},
                    )
                )
        return samples

    def score(self, logits: dict[str, Tensor], targets: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
        z = self.future
        v, n = logits["verb"], logits["noun"]
        return lta_edit_distances(
            v.reshape(-1, z, v.shape[-1]),
            n.reshape(-1, z, n.shape[-1]),
            targets["verb"].reshape(-1, z),
            targets["noun"].reshape(-1, z),
            k=self.k,
            seed=seed,
        )
