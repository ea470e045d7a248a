"""Helpers shared by the action tasks (AR, LTA): clips grouped per video clip, node inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

SUB_SEGMENTS = 3  # TRN-style: each node aggregates 3 sub-segment features


def group_by_clip(actions: list[Any]) -> list[list[Any]]:
    """Actions grouped by ``clip_uid``, in the dataset's order (sorted by video, start, action_idx)."""
    groups: dict[str, list[Any]] = {}
    for a in actions:
        groups.setdefault(a.clip_uid, []).append(a)
    return [sorted(g, key=lambda a: (a.start_frame, a.action_idx)) for g in groups.values()]


def segment_inputs(
    ds: Any, video_uid: str, spans: list[tuple[int, int]], rng: np.random.Generator | None
) -> Tensor:
    """Sub-segment features of each frame span of one video.

    ``rng`` None samples the centre of each sub-segment (evaluation); a generator samples a random
    position inside each (training). Shapes: -> [len(spans), SUB_SEGMENTS, D] float32.
    """
    from backpack.data import sample_subsegments

    feats = ds.features(video_uid)
    # frames per feature row of the dataset's feature set (16 for the video features, 5 for image)
    stride = getattr(ds, "frames_per_feature", 16)
    rows = [sample_subsegments(feats, lo, hi, n=SUB_SEGMENTS, rng=rng, stride=stride) for lo, hi in spans]
    return torch.from_numpy(np.stack(rows).astype(np.float32, copy=False))
