"""Long-term action anticipation (LTA): observed actions + Z future nodes (Fig. 3b)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from backpack.backbone.graph import GraphSample
from backpack.tasks._clips import group_by_clip, label_or_ignore, segment_inputs
from backpack.tasks.base import MaskedVerbNounTask
from backpack.tasks.graphs import anticipation_edges
from backpack.tasks.metrics import IGNORE_INDEX, lta_edit_distances, lta_windows
from backpack.tasks.registry import register_task

LTA_PROTOCOLS = ("official", "prefix")


@register_task
class LongTermAnticipation(MaskedVerbNounTask):
    """LTA: verb and noun of each of the Z future actions after ``observed`` actions.

    Evaluation (``protocol="official"``, the default) uses the official windows
    (:func:`~backpack.tasks.metrics.lta_windows`: every start position of each clip in
    ``action_idx`` order, N = ``observed`` actions seen, all Z = ``future`` actions required) and
    reports the number of windows scored. ``protocol="prefix"`` is backpack's former protocol, not
    official (windows every ``eval_stride`` actions, as few as ``min_future`` future actions scored
    on their prefix); its metrics carry the suffix ``_prefix``.

    Training windows start every ``train_stride`` actions and need ``observed + min_future``
    actions: missing future labels are padded with ``-100`` and ignored by the loss (more training
    windows from short clips; the graph always has Z future nodes). Future nodes start from the
    mean of the observed nodes' inputs; edges come from
    :func:`~backpack.tasks.graphs.anticipation_edges` (never from labels).
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
        protocol: str = "official",
        last_window: bool = True,
    ) -> None:
        if protocol not in LTA_PROTOCOLS:
            raise ValueError(f"Unknown LTA protocol {protocol!r}. Expected one of {LTA_PROTOCOLS}.")
        self.observed, self.future, self.k, self.min_future = observed, future, k, min_future
        self.train_stride, self.eval_stride, self.protocol = train_stride, eval_stride, protocol
        self.last_window = last_window  # False: the challenge's test keys (see lta_windows)
        suffix = "" if protocol == "official" else f"_{protocol}"
        self.metric_names = tuple(f"{m}{suffix}" for m in ("verb_ed", "noun_ed", "action_ed"))

    @property
    def requirement(self) -> str:
        """What a clip needs to give an evaluation window (for error messages)."""
        need = self.observed + (self.future if self.protocol == "official" else self.min_future)
        return f"the {self.protocol} LTA protocol needs clips of at least {need} actions"

    def outputs(self, taxonomy: Any) -> dict[str, int]:
        return {"verb": len(taxonomy.verbs), "noun": len(taxonomy.nouns)}

    def _starts(self, n: int, train: bool) -> range:
        if not train and self.protocol == "official":
            return lta_windows(n, self.observed, self.future, self.last_window)
        stride = self.train_stride if train else self.eval_stride
        return range(0, max(0, n - self.observed - self.min_future + 1), stride)

    def windows(self, ds: Any, split: str, train: bool = False) -> list[tuple[list[Any], int]]:
        """(clip actions in ``action_idx`` order, window start) of every graph, in :meth:`build` order."""
        return [
            (clip, s)
            for clip in group_by_clip(ds.action_clips(split), by_index=True)
            for s in self._starts(len(clip), train)
        ]

    def window_key(self, clip: list[Any], start: int) -> str:
        """The submission key of a window: ``"<clip_uid>_<action_idx of the last observed action>"``."""
        last = clip[start + self.observed - 1]
        return f"{last.clip_uid}_{last.action_idx}"

    def build(
        self, ds: Any, split: str, train: bool, rng: np.random.Generator, node_input: str = "sample"
    ) -> list[GraphSample]:
        n_obs, z = self.observed, self.future
        edges = anticipation_edges(n_obs, z)
        mask = torch.cat([torch.zeros(n_obs, dtype=torch.bool), torch.ones(z, dtype=torch.bool)])
        samples: list[GraphSample] = []
        labels: dict[int, tuple[Tensor, Tensor]] = {}
        for clip, s in self.windows(ds, split, train):
            if id(clip) not in labels:
                pad = [IGNORE_INDEX] * z  # labels past the end of the clip
                labels[id(clip)] = tuple(  # type: ignore[assignment]
                    torch.tensor([label_or_ignore(getattr(a, k)) for a in clip] + pad, dtype=torch.long)
                    for k in ("verb", "noun")
                )
            verbs, nouns = labels[id(clip)]
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

    def empty_scores(self) -> dict[str, float]:
        return {**{m: float("nan") for m in self.metric_names}, "windows": 0.0}

    def score(self, logits: dict[str, Tensor], targets: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
        z = self.future
        v, n = logits["verb"], logits["noun"]
        out = lta_edit_distances(
            v.reshape(-1, z, v.shape[-1]),
            n.reshape(-1, z, n.shape[-1]),
            targets["verb"].reshape(-1, z),
            targets["noun"].reshape(-1, z),
            k=self.k,
            seed=seed,
        )
        named = dict(zip(self.metric_names, (out["verb_ed"], out["noun_ed"], out["action_ed"])))
        return {**named, "windows": float(v.shape[0] // z)}
