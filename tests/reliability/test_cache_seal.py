"""A feature-cache file changed after it was built (NaN written in, cut, replaced) is rebuilt."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from backpack.data import FeatureCache
from backpack.data import _cache_seal as seal
from backpack.errors import DataError


def _source(tmp_path: Path, values: np.ndarray | None = None) -> Path:
    src = tmp_path / "clip.npy"
    np.save(src, np.arange(40, dtype=np.float32).reshape(10, 4) if values is None else values)
    return src


def _poison_keep_mtime(path: Path) -> None:
    st = path.stat()
    arr = np.load(path)
    arr[3, 1] = np.nan
    np.save(path, arr)  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same mtime: only the hash tells


@pytest.mark.parametrize("fresh_process", [False, True])
def test_nan_written_into_the_cache_is_not_used(tmp_path: Path, fresh_process: bool) -> None:
    src = _source(tmp_path)
    cache = FeatureCache(tmp_path / "cache")
    expected = np.array(cache.load(src))
    dest = cache.entry(src)
    _poison_keep_mtime(dest)
    if fresh_process:
        seal._VERIFIED.clear()  # what a new process knows
    else:  # an edit that changes the mtime is seen by the same process too
        os.utime(dest, ns=(dest.stat().st_atime_ns, dest.stat().st_mtime_ns + 10**9))
    again = FeatureCache(tmp_path / "cache")
    np.testing.assert_array_equal(again.load(src), expected)
    assert again.conversions == 1 and np.isfinite(np.load(dest)).all()


def test_truncated_or_missing_seal_rebuilds(tmp_path: Path) -> None:
    src = _source(tmp_path)
    cache = FeatureCache(tmp_path / "cache")
    expected = np.array(cache.load(src))
    dest = cache.entry(src)
    with open(dest, "r+b") as f:
        f.truncate(dest.stat().st_size - 8)
    assert np.array_equal(FeatureCache(tmp_path / "cache").load(src), expected)
    seal.seal_path(dest).unlink()
    again = FeatureCache(tmp_path / "cache")
    assert np.array_equal(again.load(src), expected) and again.conversions == 1
    third = FeatureCache(tmp_path / "cache")
    third.load(src)
    assert third.conversions == 0  # sealed again: used as it is


def test_nan_in_a_source_is_refused_when_the_cache_is_built(tmp_path: Path) -> None:
    values = np.ones((5, 3), np.float32)
    values[2, 0] = np.inf
    with pytest.raises(DataError, match=r"clip.npy.*NaN or inf in 1 of 5 steps"):
        FeatureCache(tmp_path / "cache").load(_source(tmp_path, values))
