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
