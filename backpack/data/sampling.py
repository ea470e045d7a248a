"""TRN-style sampling of a segment's features: n sub-segments, one feature from each."""

from __future__ import annotations

import numpy as np

# The default (Omnivore video features: windows of 32 frames, stride 16, 30 fps: row = frame // 16);
# a dataset's own mapping is Ego4DDataset.feature_time (backpack/data/feature_sets.py).
FRAMES_PER_FEATURE = 16
FPS = 30


def segment_indices(
    num_features: int, start_frame: int, end_frame: int, stride: int = FRAMES_PER_FEATURE
) -> np.ndarray:
    """Feature indices covering frames ``[start_frame, end_frame)``, clipped to ``[0, T-1]``.

    Row ``t`` starts at frame ``t * stride``.

    Always at least one index (a segment shorter than a feature step, or entirely beyond the end of
    the features, maps to its clipped first index).
    """
    if num_features <= 0:
        raise ValueError(f"Expected at least one feature step. Got {num_features}.")
    last = num_features - 1
    lo = min(max(int(start_frame) // stride, 0), last)
    hi = min(max((int(end_frame) - 1) // stride, lo), last)
    return np.arange(lo, hi + 1)


def sample_subsegments(
    feats: np.ndarray,
    start_frame: int,
    end_frame: int,
    n: int = 3,
    rng: np.random.Generator | None = None,
    stride: int = FRAMES_PER_FEATURE,
) -> np.ndarray:
    """Pick one feature from each of ``n`` equal sub-segments of ``[start_frame, end_frame)``.

    Parameters
    ----------
    feats
        Features of the whole video, ``[T, D]``.
    start_frame, end_frame
        The segment, in absolute frames (end exclusive); feature index = frame // stride.
    n
        Number of sub-segments.
    rng
        ``None`` picks the centre of each sub-segment (evaluation, deterministic); a numpy
        ``Generator`` picks a random position inside each sub-segment (training).
    stride
        Frames between feature rows (16 for the Omnivore video features, 5 for the image ones).

    Returns
    -------
    np.ndarray
        ``[n, D]`` float32. Shapes: feats [T, D] -> [n, D].

    Notes
    -----
    With ``L`` indices, sub-segment ``i`` holds positions ``[i*L//n, (i+1)*L//n)``; when ``L < n``
    an empty sub-segment takes position ``min(i*L//n, L-1)`` (indices repeat).
    """
    if n < 1:
        raise ValueError(f"Invalid value for 'n' in sample_subsegments. Expected >= 1. Got {n}.")
    # plain Python ints: for n = 3 this beats a handful of tiny numpy ops (it runs once per node)
    steps = int(feats.shape[0])
    if steps <= 0:
        raise ValueError(f"Expected at least one feature step. Got {steps}.")
    first = min(max(int(start_frame) // stride, 0), steps - 1)
    size = min(max((int(end_frame) - 1) // stride, first), steps - 1) - first + 1
    picks = []
    for i in range(n):
        lo, hi = i * size // n, (i + 1) * size // n
        if hi <= lo:
            pos = lo
        elif rng is None:
            pos = (lo + hi - 1) // 2
        else:
            pos = lo + int(rng.integers(0, hi - lo))
        picks.append(first + min(pos, size - 1))
    # np.asarray drops the memmap subclass: indexing a plain view is cheaper
    return np.asarray(feats)[picks].astype(np.float32, copy=False)


# How a node's input is formed from the feature rows of its segment (``--node-input``):
#   "sample":  one row per sub-segment (a random one in training, the centre one in evaluation);
#              the original TRN-style input, which uses n of the segment's rows.
#   "submean": the mean of each of the n sub-segments' rows, fused by the TRN encoder.
#   "mean":    the mean of all the segment's rows, one slot (the TRN encoder sees S = 1).
NODE_INPUTS = ("mean", "submean", "sample")
# The default of new runs: the one that measured best over both synthetic worlds
# (experiments/results/node_inputs.md, 3 seeds): "submean" and "mean" are within the seed spread
# on the clean world, "submean" is ahead on the noisy one; "sample" is 10-15 points behind on both.
DEFAULT_NODE_INPUT = "submean"
# Training crop of the pooled inputs: a random contiguous run of at least this share of the rows.
MIN_CROP = 0.5


def node_slots(node_input: str, sub_segments: int) -> int:
    """Number of feature slots S per node: 1 for ``"mean"``, else ``sub_segments``."""
    check_node_input(node_input)
    return 1 if node_input == "mean" else int(sub_segments)


def check_node_input(node_input: str, where: str = "node inputs") -> str:
    """``node_input`` if it is one of :data:`NODE_INPUTS`, else a ConfigError naming them."""
    if node_input not in NODE_INPUTS:
        from backpack.errors import ConfigError, invalid

        raise ConfigError(invalid("node_input", where, " or ".join(NODE_INPUTS), repr(node_input)))
    return node_input


def pool_segment(
    feats: np.ndarray,
    start_frame: int,
    end_frame: int,
    n: int = 3,
    node_input: str = "mean",
    rng: np.random.Generator | None = None,
    stride: int = FRAMES_PER_FEATURE,
) -> np.ndarray:
    """A node's input from every feature row of ``[start_frame, end_frame)``.

    Parameters
    ----------
    feats
        Features of the whole video, ``[T, D]``.
    start_frame, end_frame
        The segment, in absolute frames (end exclusive).
    n
        Number of sub-segments (``"submean"`` and ``"sample"``).
    node_input
        One of :data:`NODE_INPUTS` (``"sample"`` is :func:`sample_subsegments`).
    rng
        ``None``: every row of the segment (evaluation, deterministic). A generator: a random
        contiguous crop of at least ``MIN_CROP`` of the rows (training augmentation).
    stride
        Frames between two feature rows (row = frame // stride).

    Returns
    -------
    np.ndarray
        ``[1, D]`` for ``"mean"``, ``[n, D]`` otherwise; float32.
    """
    check_node_input(node_input, "pool_segment")
    if node_input == "sample":
        return sample_subsegments(feats, start_frame, end_frame, n=n, rng=rng, stride=stride)
    idx = segment_indices(int(feats.shape[0]), start_frame, end_frame, stride)
    if rng is not None and len(idx) > 1:
        keep = max(1, int(np.ceil(MIN_CROP * len(idx))))
        size = int(rng.integers(keep, len(idx) + 1))
        first = int(rng.integers(0, len(idx) - size + 1))
        idx = idx[first : first + size]
    rows = np.asarray(feats)[idx[0] : idx[-1] + 1].astype(np.float64)
    if node_input == "mean":
        return rows.mean(axis=0, keepdims=True).astype(np.float32)
    # sub-segment i holds rows [i*L//n, (i+1)*L//n); an empty one (L < n) takes row min(i*L//n, L-1)
    size = len(rows)
    out = []
    for i in range(n):
        lo, hi = i * size // n, (i + 1) * size // n
        out.append(rows[lo:hi].mean(axis=0) if hi > lo else rows[min(lo, size - 1)])
    return np.stack(out).astype(np.float32)
