"""Ego4DDataset on synthetic and hand-made data: clips, features, sorting, fingerprint."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from backpack.data import ActionClip, Ego4DDataset, StateClip, Taxonomy, sample_subsegments

from .conftest import lta_clip


def test_synthetic_loads_without_warnings(
    synth_root: Path, synth_ds: Ego4DDataset, tmp_path: Path, tiny_config: object
) -> None:
    from backpack.data import write_synthetic

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Ego4DDataset(write_synthetic(tmp_path / "small-one", seed=5, size=tiny_config))  # type: ignore[arg-type]
        ds = Ego4DDataset(synth_root, cache_dir=synth_ds.cache.cache_dir)  # the cache built once
    tax = json.loads((synth_root / "annotations" / "fho_lta_taxonomy.json").read_text())
    assert ds.taxonomy == Taxonomy(tuple(tax["verbs"]), tuple(tax["nouns"]))
    assert ds.feature_dim == 128
    train = ds.action_clips("train")
    assert len(train) == len(
        json.loads((synth_root / "annotations" / "fho_lta_train.json").read_text())["clips"]
    )
    assert all(isinstance(c, ActionClip) for c in train)
    keys = [(c.video_uid, c.start_frame, c.action_idx) for c in train]
    assert keys == sorted(keys)
    states = ds.state_clips("val")
    assert all(isinstance(c, StateClip) for c in states)
    assert all((c.pnr_frame is not None) == c.state_change for c in states)
    assert all(c.start_frame <= c.pnr_frame <= c.end_frame for c in states if c.pnr_frame is not None)


def test_features_are_float32_memory_maps(synth_root: Path, synth_ds: Ego4DDataset) -> None:
    import torch

    ds = synth_ds
    uid = ds.action_clips("train")[0].video_uid
    arr = ds.features(uid)
    assert isinstance(arr, np.memmap) and arr.dtype == np.float32 and arr.shape[1] == 128
    src = torch.load(synth_root / "omnivore_video_swinl" / f"{uid}.pt", weights_only=True)
    np.testing.assert_array_equal(arr, src.numpy())
    assert ds.features(uid) is arr  # opened once


def test_absolute_frames_from_parent_start(tiny: Callable[..., Path], tmp_path: Path) -> None:
    root = tiny(lta={"train": [lta_clip(parent=100, start=10, end=50, verb=2, noun=0)]})
    ds = Ego4DDataset(root)
    (c,) = ds.action_clips("train")
    assert (c.start_frame, c.end_frame, c.verb, c.noun) == (110, 150, 2, 0)
    assert ds.state_clips("train") == [StateClip("u1", "v1", 0, 240, True, 100)]


def test_sorted_by_video_clip_start_action_idx(tiny: Callable[..., Path]) -> None:
    clips = [
        lta_clip("v2", "b", 0, 0, 16),
        lta_clip("v1", "a", 1, 40, 60, parent=100),
        lta_clip("v1", "a", 0, 0, 16, parent=100),
        lta_clip("v1", "z", 0, 0, 16, parent=0),
    ]
    feats = {f"v{i}.pt": np.ones((30, 4), np.float32) for i in (1, 2)}
    ds = Ego4DDataset(tiny(lta={"train": clips}, features=feats))
    got = [(c.video_uid, c.clip_uid, c.action_idx) for c in ds.action_clips("train")]
    assert got == [("v1", "z", 0), ("v1", "a", 0), ("v1", "a", 1), ("v2", "b", 0)]


def test_npy_features_and_pt_preferred(tiny: Callable[..., Path]) -> None:
    feats = {
        "v1.npy": np.zeros((20, 8), np.float64),
        "v1.pt": np.ones((20, 8), np.float32),
        "v2.npy": np.full((5, 8), 2.0, np.float32),
    }
    ds = Ego4DDataset(tiny(features=feats))
    assert float(ds.features("v1")[0, 0]) == 1.0  # .pt wins over .npy
    assert ds.features("v2").dtype == np.float32 and float(ds.features("v2")[0, 0]) == 2.0
    assert ds.video_uids == ["v1", "v2"]


def test_float16_tensor_converted(tiny: Callable[..., Path]) -> None:
    import torch

    ds = Ego4DDataset(tiny(features={"v1.pt": torch.full((20, 8), 0.5, dtype=torch.float16)}))
    assert ds.features("v1").dtype == np.float32 and float(ds.features("v1")[3, 3]) == 0.5


def test_only_lta_files_is_enough(tiny: Callable[..., Path]) -> None:
    ds = Ego4DDataset(tiny(oscc={}))
    assert len(ds.action_clips("val")) == 1


def test_other_split_loaded_on_demand(tiny: Callable[..., Path]) -> None:
    root = tiny()
    ds = Ego4DDataset(root)
    (root / "annotations" / "fho_lta_test.json").write_text(json.dumps({"clips": [lta_clip(end=16 * 40)]}))
    with pytest.warns(UserWarning, match="1 clip"):
        assert len(ds.action_clips("test")) == 1


def test_subsegments_on_loaded_clip(synth_ds: Ego4DDataset) -> None:
    ds = synth_ds
    c = ds.action_clips("val")[3]
    out = sample_subsegments(ds.features(c.video_uid), c.start_frame, c.end_frame)
    assert out.shape == (3, 128) and np.isfinite(out).all()


def test_fingerprint_stable_and_sensitive(tiny: Callable[..., Path], tmp_path: Path) -> None:
    root = tiny()
    fp = Ego4DDataset(root).fingerprint()
    assert len(fp) == 64 and Ego4DDataset(root, cache_dir=tmp_path / "c2").fingerprint() == fp
    (root / "omnivore_video_swinl" / "v1.pt").touch()  # mtime only: same data, same fingerprint
    assert Ego4DDataset(root).fingerprint() == fp
    path = root / "annotations" / "fho_lta_val.json"
    path.write_text(json.dumps({"clips": [lta_clip(verb=1)]}))
    assert Ego4DDataset(root).fingerprint() != fp


def test_repr(tiny: Callable[..., Path]) -> None:
    assert "omnivore_video_swinl" in repr(Ego4DDataset(tiny()))


def test_import_needs_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, backpack.data, backpack.cli.data_cmds; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_npy_only_dataset_reads_without_torch(tiny: Callable[..., Path]) -> None:
    import subprocess
    import sys

    root = tiny(features={"v1.npy": np.ones((20, 8), np.float32)})
    code = (
        f"import sys; from backpack.data import Ego4DDataset; ds = Ego4DDataset({str(root)!r}); "
        "print(ds.feature_dim, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "8 False"
