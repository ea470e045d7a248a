"""Loading a download in the real Ego4D layout (tests/data/real_layout.py): one test per quirk."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from backpack.data import Ego4DDataset
from backpack.data.layout import data_change
from backpack.errors import DataError
from tests.data.real_layout import rows, write_download


@pytest.fixture
def download(tmp_path: Path) -> Path:
    return write_download(tmp_path / "ego4d")


def _open(root: Path, tmp_path: Path, **kw: object) -> Ego4DDataset:
    return Ego4DDataset(root, cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


def _rewrite(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text())
    edit(data["clips"])
    path.write_text(json.dumps(data))


def test_negatives_without_parent_pnr_frame_are_negatives(download: Path, tmp_path: Path) -> None:
    ds = _open(download, tmp_path, tasks=["oscc"])
    by_id = {c.unique_id: c for c in ds.state_clips("train")}
    assert set(by_id) == {"pos1", "neg1", "neg2"}  # no negative dropped or refused
    assert by_id["neg1"].state_change is False and by_id["neg1"].pnr_frame is None
    assert by_id["pos1"].state_change is True and by_id["pos1"].pnr_frame == 100
    assert ds.is_labelled("train", "oscc") and all(c.labelled for c in by_id.values())


def test_positive_without_pnr_frame_names_file_clip_and_field(download: Path, tmp_path: Path) -> None:
    path = download / "v1/annotations/fho_oscc-pnr_train.json"
    _rewrite(path, lambda clips: clips[0].pop("parent_pnr_frame"))
    with pytest.raises(DataError) as info:
        _open(download, tmp_path, tasks=["pnr"])
    msg = str(info.value)
    assert "fho_oscc-pnr_train.json" in msg and "clip 'pos1'" in msg and "'parent_pnr_frame'" in msg
    assert "\n" not in msg


def test_null_clip_uid(download: Path, tmp_path: Path) -> None:
    clips = {c.unique_id: c for c in _open(download, tmp_path, tasks=["oscc"]).state_clips("val")}
    assert clips["neg1"].clip_uid is None and clips["pos1"].clip_uid == "clipB"


def test_lta_absolute_frames(download: Path, tmp_path: Path) -> None:
    actions = _open(download, tmp_path, tasks=["lta"]).action_clips("train")
    a = next(a for a in actions if a.action_idx == 2)
    # clip_parent_start_frame + action_clip_{start,end}_frame
    assert (a.start_frame, a.end_frame, a.clip_uid, a.verb, a.noun) == (100 + 106, 100 + 146, "clipA", 1, 1)


def test_downloader_root_finds_v1_and_says_so(
    download: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="backpack.data"):
        ds = _open(download, tmp_path)
    assert ds.root == download / "v1" and ds.requested_root == download
    assert any("v1" in r.getMessage() for r in caplog.records)
    (download / "v1").rename(download / "v2")
    assert _open(download, tmp_path).root == download / "v2"


def test_no_version_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty-download" / "v3").mkdir(parents=True)
    with pytest.raises(DataError) as info:
        _open(tmp_path / "empty-download", tmp_path)
    assert "v1/ or v2/" in str(info.value) and "annotations/" in str(info.value)


def test_test_unannotated_loads_unlabelled(download: Path, tmp_path: Path) -> None:
    ds = _open(download, tmp_path, tasks=["lta", "oscc"], splits=["test"])
    actions, states = ds.action_clips("test"), ds.state_clips("test")
    assert len(actions) == 23 and all(a.verb is None and a.noun is None and not a.labelled for a in actions)
    assert [a.action_idx for a in actions] == list(range(23)) and actions[0].clip_uid == "clipC"
    assert len(states) == 1 and states[0].state_change is None and states[0].pnr_frame is None
    assert not ds.is_labelled("test", "lta") and not ds.is_labelled("test", "pnr")
    assert ds.is_labelled("val", "ar")


def test_labelled_test_file_wins(download: Path, tmp_path: Path) -> None:
    ann = download / "v1/annotations"
    labelled = json.loads((ann / "fho_oscc-pnr_val.json").read_text())
    (ann / "fho_oscc-pnr_test.json").write_text(json.dumps(labelled))
    ds = _open(download, tmp_path, tasks=["oscc"], splits=["test"])
    assert ds.is_labelled("test", "oscc") and len(ds.state_clips("test")) == 3


def test_only_requested_files_are_parsed(download: Path, tmp_path: Path) -> None:
    (download / "v1/annotations/fho_lta_train.json").write_text("{not json")
    ds = _open(download, tmp_path, tasks=["oscc", "pnr"])  # the broken LTA file is never read
    assert len(ds.state_clips("train")) == 3
    with pytest.raises(DataError, match="fho_lta_train.json"):
        _open(download, tmp_path, tasks=["ar"])


def test_only_requested_videos_are_cached(download: Path, tmp_path: Path) -> None:
    ds = _open(download, tmp_path, tasks=["oscc"])
    assert ds.feature_dim == 4
    assert ds.cache.conversions == 1  # oscc_b only
    assert sorted({p.name.split(".")[0] for p in (tmp_path / "cache").iterdir()}) == [
        "oscc_b"
    ]  # its .npy and .seal


def test_unrelated_file_leaves_the_fingerprint(download: Path, tmp_path: Path) -> None:
    before = _open(download, tmp_path, tasks=["oscc"])
    ann = download / "v1/annotations"
    (ann / "fho_sta_train.json").write_text(json.dumps({"annotations": []}))
    (ann / "fho_lta_val.json").write_text("{}")  # a file an OSCC run does not read
    (download / "v1/omnivore_video_swinl/unused_e.pt").unlink()
    after = _open(download, tmp_path, tasks=["oscc"])
    assert after.fingerprint() == before.fingerprint()
    assert set(after.files_read()) == {
        "annotations/fho_lta_taxonomy.json",
        "annotations/fho_oscc-pnr_train.json",
        "annotations/fho_oscc-pnr_val.json",
        "omnivore_video_swinl/oscc_b.pt",
    }
    _rewrite(ann / "fho_oscc-pnr_val.json", lambda clips: clips.pop())
    changed = _open(download, tmp_path, tasks=["oscc"])
    assert changed.fingerprint() != before.fingerprint()
    msg = data_change(before.files_read(), changed.files_read())
    assert msg == " The data changed: annotations/fho_oscc-pnr_val.json (changed)."


def test_unknown_feature_folder_needs_a_stride(download: Path, tmp_path: Path) -> None:
    (download / "v1/omnivore_video_swinl").rename(download / "v1/my_features")
    with pytest.raises(DataError) as info:
        _open(download, tmp_path, features="my_features")
    msg = str(info.value)
    assert "'my_features'" in msg and "--feature-stride" in msg and "omnivore_video_swinl" in msg
    with pytest.warns(UserWarning, match="reach beyond the end of their features"):  # 8 < 16 frames a row
        ds = _open(download, tmp_path, features="my_features", feature_stride=8)
    assert ds.feature_time.to_dict() == {"window": 8, "stride": 8, "fps": 30.0, "source": "given"}


def test_image_features_use_stride_5(download: Path, tmp_path: Path) -> None:
    from backpack.tasks._clips import segment_inputs

    (download / "v1/omnivore_video_swinl").rename(download / "v1/omnivore_image_swinl")
    import torch

    torch.save(torch.from_numpy(rows(200)), download / "v1/omnivore_image_swinl/oscc_b.pt")
    ds = _open(download, tmp_path, features="omnivore_image_swinl", tasks=["oscc"])
    assert (ds.feature_time.window, ds.feature_time.stride, ds.frames_per_feature) == (1, 5, 5)
    # frames [100, 130): rows 20..25 at stride 5 (rows 6..8 at the video features' 16)
    x = segment_inputs(ds, "oscc_b", [(100, 130)], None)
    picked = x[0, :, 0].numpy()
    assert np.array_equal(picked, [20, 22, 24])
