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
    ds: Any,
    video_uid: str,
    spans: list[tuple[int, int]],
    rng: np.random.Generator | None,
    node_input: str = "sample",
) -> Tensor:
    """Node inputs of each frame span of one video, formed as ``node_input`` says.

    ``node_input`` is one of :data:`backpack.data.sampling.NODE_INPUTS`: ``"sample"`` takes one row
    per sub-segment, ``"submean"`` the mean of each sub-segment, ``"mean"`` the mean of the whole
    span (one slot). ``rng`` None is evaluation (centre rows, or every row); a generator is the
    training draw (random rows, or a random crop). Shapes: -> [len(spans), S, D] float32 with
    S = 1 for ``"mean"``, else SUB_SEGMENTS.
    """
    from backpack.data.sampling import pool_segment

    feats = ds.features(video_uid)
    # frames per feature row of the dataset's feature set (16 for the video features, 5 for image)
    stride = getattr(ds, "frames_per_feature", 16)
    rows = [
        pool_segment(feats, lo, hi, n=SUB_SEGMENTS, node_input=node_input, rng=rng, stride=stride)
        for lo, hi in spans
    ]
    return torch.from_numpy(np.stack(rows).astype(np.float32, copy=False))


def node_input_of(model: Any) -> str:
    """The node input a model was trained with (``model.node_input``, or its ``base`` model's).

    Models built before node inputs existed have none: they used single-row ``"sample"``.
    """
    for m in (model, getattr(model, "base", None)):
        value = getattr(m, "node_input", None)
        if isinstance(value, str):
            return value
    return "sample"
