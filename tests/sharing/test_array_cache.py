"""The local array cache (backpack/store/_cache.py): content-addressed, verified, atomic, bounded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from backpack.store._arrays import sha256_of
from backpack.store._cache import ArrayCache, cached_read_array, default_cache, is_remote
from backpack.store.manifest import ArrayEntry


def _entry(a: np.ndarray) -> ArrayEntry:
    return ArrayEntry(tuple(a.shape), str(a.dtype), sha256_of(a))


@pytest.fixture
def arr() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)


def test_put_then_get_returns_equal_array_under_its_checksum(tmp_path: Path, arr: np.ndarray) -> None:
    cache, e = ArrayCache(tmp_path), _entry(arr)
    assert cache.get(e) is None
    cache.put(e, arr)
    assert cache.path_of(e.sha256) == tmp_path / e.sha256[:2] / f"{e.sha256}.npy"
    got = cache.get(e)
    assert got is not None and got.dtype == np.float32
    np.testing.assert_array_equal(got, arr)
    assert cache.entries() == [cache.path_of(e.sha256)]
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]


def test_same_bytes_share_one_entry(tmp_path: Path, arr: np.ndarray) -> None:
    cache = ArrayCache(tmp_path)
    cache.put(_entry(arr), arr)
    cache.put(_entry(arr.copy()), arr.copy())
    assert len(cache.entries()) == 1


def test_damaged_entry_is_dropped_not_returned(tmp_path: Path, arr: np.ndarray) -> None:
    cache, e = ArrayCache(tmp_path), _entry(arr)
    cache.put(e, arr)
    path = cache.path_of(e.sha256)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # one flipped bit in the data
    path.write_bytes(bytes(raw))
    assert cache.get(e) is None
    assert not path.exists()


def test_truncated_entry_is_dropped(tmp_path: Path, arr: np.ndarray) -> None:
    cache, e = ArrayCache(tmp_path), _entry(arr)
    cache.put(e, arr)
    path = cache.path_of(e.sha256)
    path.write_bytes(path.read_bytes()[:20])
    assert cache.get(e) is None and not path.exists()


def test_entry_with_other_shape_is_a_miss(tmp_path: Path, arr: np.ndarray) -> None:
    cache, e = ArrayCache(tmp_path), _entry(arr)
    cache.put(e, arr)
    other = ArrayEntry((5, 7), "float32", e.sha256)  # same bytes, another shape claimed
    assert cache.get(other) is None


def test_bad_checksum_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sha256"):
        ArrayCache(tmp_path).path_of("../../etc/passwd")


def test_prune_removes_least_recently_used_first(tmp_path: Path) -> None:
    cache = ArrayCache(tmp_path)
    arrays = [np.full((100,), i, dtype=np.int64) for i in range(3)]
    for i, a in enumerate(arrays):
        cache.put(_entry(a), a)
        os.utime(cache.path_of(_entry(a).sha256), (1000 + i, 1000 + i))
    cache.get(_entry(arrays[0]))  # used now: the most recent
    one = cache.path_of(_entry(arrays[0]).sha256).stat().st_size
    freed = cache.prune(2 * one)
    assert freed == one
    assert cache.get(_entry(arrays[1])) is None  # the oldest unused one went
    assert cache.get(_entry(arrays[0])) is not None and cache.get(_entry(arrays[2])) is not None


def test_max_bytes_bounds_the_cache_on_put(tmp_path: Path) -> None:
    arrays = [np.full((1000,), i, dtype=np.int64) for i in range(4)]
    cache = ArrayCache(tmp_path, max_bytes=8000 + 500)
    for a in arrays:
        cache.put(_entry(a), a)
    assert len(cache.entries()) == 1 and cache.size_bytes() <= 8500


def test_default_cache_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKPACK_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache().root == tmp_path / "c"  # type: ignore[union-attr]
    monkeypatch.setenv("BACKPACK_CACHE_DIR", "off")
    assert default_cache() is None
    monkeypatch.delenv("BACKPACK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache().root == tmp_path / "xdg" / "backpack" / "arrays"  # type: ignore[union-attr]


def test_only_remote_backends_are_cached(
    tmp_path: Path, arr: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backpack.store import Backpack, open_backend

    monkeypatch.setenv("BACKPACK_CACHE_DIR", str(tmp_path / "cache"))
    local = open_backend(tmp_path / "store", "a")
    assert not is_remote(local)
    bp = Backpack.create(tmp_path / "s", verbs=["a"], nouns=["b", "c"])
    keys = np.array([[0, 0], [0, 1]], dtype=np.int32)
    with bp.new_version() as v:
        v.add_task("ar", arr[:2], keys, np.array([1, 2]))
    entry = bp.manifest.tasks["ar"]
    data = cached_read_array(bp.backend, entry.path, "prototypes", entry.arrays["prototypes"], "test")
    np.testing.assert_array_equal(data, arr[:2])
    assert not (tmp_path / "cache").exists()  # a local store is read in place, never copied
    assert not is_remote(open_backend(bp.export(tmp_path / "b.zip"), "r"))


@pytest.mark.s3
def test_s3_backend_is_remote(s3_url: str, s3_storage_options: dict[str, str]) -> None:
    from backpack.store import open_backend

    assert is_remote(open_backend(s3_url, "r", s3_storage_options))
