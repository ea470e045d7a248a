"""The feature cache: converted once, memory-mapped, keyed by the source, written atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from backpack.data import Ego4DDataset, FeatureCache
from backpack.data import features as features_mod
from backpack.errors import DataError

Tiny = Callable[..., Path]


def _forbid_pt(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(path: Path) -> np.ndarray:
        raise AssertionError(f"read {path} again")

    monkeypatch.setattr(features_mod, "_load_pt", boom)


def test_second_load_never_reads_pt(tiny: Tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tiny()
    first = Ego4DDataset(root)
    assert first.cache.conversions == 1
    expected = np.array(first.features("v1"))
    _forbid_pt(monkeypatch)
    second = Ego4DDataset(root)
    np.testing.assert_array_equal(second.features("v1"), expected)
    assert second.cache.conversions == 0


def test_default_cache_location_and_file(tiny: Tiny) -> None:
    root = tiny()
    ds = Ego4DDataset(root)
    ds.features("v1")
    files = list((root / ".backpack-cache" / "omnivore_video_swinl").glob("*.npy"))  # beside: .seal
    assert len(files) == 1 and files[0].name.startswith("v1.") and files[0].suffix == ".npy"
    arr = np.load(files[0], mmap_mode="r")
    assert arr.dtype == np.float32 and arr.shape == (20, 8)


def test_changed_source_gets_new_entry(tiny: Tiny, tmp_path: Path) -> None:
    import torch

    root = tiny()
    cache = tmp_path / "cache"
    assert float(Ego4DDataset(root, cache_dir=cache).features("v1")[0, 0]) != 5.0
    torch.save(torch.full((20, 8), 5.0), root / "omnivore_video_swinl" / "v1.pt")
    ds = Ego4DDataset(root, cache_dir=cache)
    assert ds.cache.conversions == 1 and float(ds.features("v1")[0, 0]) == 5.0
    assert len(list(cache.glob("v1.*.npy"))) == 2


def test_cache_is_read_only_memmap(tiny: Tiny) -> None:
    arr = Ego4DDataset(tiny()).features("v1")
    assert isinstance(arr, np.memmap)
    with pytest.raises(ValueError):
        arr[0, 0] = 1.0


def test_failed_write_leaves_no_entry(tiny: Tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tiny()
    cache_dir = tmp_path / "cache"

    def broken_save(fh: object, arr: np.ndarray, allow_pickle: bool = False) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(features_mod.np, "save", broken_save)
    with pytest.raises(DataError, match="No space left on device"):
        Ego4DDataset(root, cache_dir=cache_dir)
    assert list(cache_dir.iterdir()) == []  # no temp file, no half entry
    monkeypatch.undo()
    assert Ego4DDataset(root, cache_dir=cache_dir).cache.conversions == 1


def test_damaged_cache_entry_is_rebuilt(tiny: Tiny, tmp_path: Path) -> None:
    root = tiny()
    cache = FeatureCache(tmp_path / "cache")
    src = root / "omnivore_video_swinl" / "v1.pt"
    good = np.array(cache.load(src))
    cache.entry(src).write_bytes(b"\x93NUMPY garbage")
    np.testing.assert_array_equal(cache.load(src), good)
    assert cache.conversions == 2


def test_npy_source_also_cached(tiny: Tiny, tmp_path: Path) -> None:
    root = tiny(features={"v1.npy": np.full((20, 8), 3.0, np.float64)})
    cache = FeatureCache(tmp_path / "c")
    out = cache.load(root / "omnivore_video_swinl" / "v1.npy")
    assert out.dtype == np.float32 and cache.conversions == 1 and float(out[1, 1]) == 3.0
