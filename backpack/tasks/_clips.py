"""Helpers shared by the action tasks (AR, LTA): clips grouped per video clip, node inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from backpack.tasks.metrics import IGNORE_INDEX

SUB_SEGMENTS = 3  # TRN-style: each node aggregates 3 sub-segment features


def label_or_ignore(value: int | None) -> int:
    """A label, or ``IGNORE_INDEX`` for an unlabelled clip (a test split): the loss and metrics skip it."""
    return IGNORE_INDEX if value is None else int(value)


def group_by_clip(actions: list[Any], by_index: bool = False) -> list[list[Any]]:
    """Actions grouped by ``clip_uid``, in the dataset's order (sorted by video, start, action_idx).

    Within a clip actions are sorted by (start frame, action_idx), or by ``action_idx`` alone with
    ``by_index`` (the order of the official LTA windows).
    """
    groups: dict[str, list[Any]] = {}
    for a in actions:
        groups.setdefault(a.clip_uid, []).append(a)
    if by_index:
        return [sorted(g, key=lambda a: a.action_idx) for g in groups.values()]
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
