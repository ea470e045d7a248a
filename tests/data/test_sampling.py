"""sample_subsegments and segment_indices on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from backpack.data import sample_subsegments, segment_indices


def feats(T: int = 10) -> np.ndarray:
    # row t holds the value t, so a sample shows which indices were picked
    return np.repeat(np.arange(T, dtype=np.float32)[:, None], 2, axis=1)


def picked(out: np.ndarray) -> list[int]:
    return out[:, 0].astype(int).tolist()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 16, [0]),  # exactly one step
        (0, 17, [0, 1]),  # frame 16 belongs to index 1
        (16, 48, [1, 2]),
        (5, 6, [0]),  # shorter than a step: one index
        (100, 100, [6]),  # empty segment: still its first index
        (150, 400, [9]),  # beyond the end: clipped to T-1
        (-40, 20, [0, 1]),  # negative start clipped to 0
    ],
)
def test_segment_indices(start: int, end: int, expected: list[int]) -> None:
    assert segment_indices(10, start, end).tolist() == expected


def test_centred_nine_indices_three_parts() -> None:
    # frames [0, 144) -> indices 0..8 -> parts [0,3) [3,6) [6,9) -> centres 1, 4, 7
    out = sample_subsegments(feats(), 0, 144, n=3)
    assert out.shape == (3, 2) and out.dtype == np.float32
    assert picked(out) == [1, 4, 7]


def test_centred_four_indices_three_parts() -> None:
    # indices 2..5 (frames [32, 96)), L = 4 -> parts [0,1) [1,2) [2,4) -> positions 0, 1, 2 -> 2, 3, 4
    assert picked(sample_subsegments(feats(), 32, 96, n=3)) == [2, 3, 4]


def test_fewer_indices_than_parts_repeat() -> None:
    # L = 2, n = 4: parts [0,0) [0,1) [1,1) [1,2) -> positions 0, 0, 1, 1
    assert picked(sample_subsegments(feats(), 0, 32, n=4)) == [0, 0, 1, 1]


def test_single_index_segment() -> None:
    assert picked(sample_subsegments(feats(), 40, 41, n=3)) == [2, 2, 2]


def test_random_stays_inside_each_part_and_is_seeded() -> None:
    f = feats(40)
    draws = [picked(sample_subsegments(f, 0, 16 * 30, n=3, rng=np.random.default_rng(s))) for s in range(200)]
    arr = np.array(draws)
    for part in range(3):
        assert arr[:, part].min() >= 10 * part and arr[:, part].max() <= 10 * part + 9
        assert len(set(arr[:, part])) == 10  # every position reachable
    again = picked(sample_subsegments(f, 0, 480, n=3, rng=np.random.default_rng(7)))
    assert again == draws[7]


def test_beyond_end_is_clipped() -> None:
    out = sample_subsegments(feats(10), 16 * 8, 16 * 20, n=3)
    assert picked(out) == [8, 8, 9]  # indices 8..9 only


def test_bad_n() -> None:
    with pytest.raises(ValueError, match="'n'"):
        sample_subsegments(feats(), 0, 32, n=0)
