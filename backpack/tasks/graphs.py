"""Edge rules of the task graphs (paper Fig. 3). Edges depend only on node positions, never on labels."""

from __future__ import annotations

import torch
from torch import Tensor


def temporal_edges(n: int, tau: int = 1) -> Tensor:
    """Edges between nodes at most ``tau`` apart, both directions, no self loops.

    Shapes: -> [2, e] (src, dst).
    """
    src, dst = [], []
    for i in range(n):
        for j in range(max(0, i - tau), min(n, i + tau + 1)):
            if i != j:
                src.append(j)
                dst.append(i)
    return torch.tensor([src, dst], dtype=torch.long).reshape(2, -1)


def anticipation_edges(observed: int, future: int) -> Tensor:
    """LTA edges: a chain over observed + future nodes (both directions), plus every observed
    node -> every future node (so each forecast sees the whole observed context).

    Shapes: -> [2, e] (src, dst).
    """
    chain = temporal_edges(observed + future, tau=1)
    pairs = {(int(s), int(d)) for s, d in chain.t()}
    for o in range(observed):
        for f in range(observed, observed + future):
            pairs.add((o, f))
            pairs.add((f, o))
    ordered = sorted(pairs, key=lambda p: (p[1], p[0]))
    return torch.tensor(ordered, dtype=torch.long).t().contiguous()


def split_frames(start: int, end: int, n: int) -> list[tuple[int, int]]:
    """Split frames [start, end) into ``n`` contiguous parts of (almost) equal length.

    Every part has at least one frame, even when the clip is shorter than ``n`` frames.
    """
    end = max(end, start + 1)
    bounds = [start + round(i * (end - start) / n) for i in range(n + 1)]
    return [(bounds[i], max(bounds[i + 1], bounds[i] + 1)) for i in range(n)]
