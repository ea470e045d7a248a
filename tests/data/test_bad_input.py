"""Every bad input of the Ego4D layout gives a DataError naming the file, clip, field, expected and found."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backpack.data import Ego4DDataset
from backpack.errors import BackpackError, DataError, NotFoundError

from .conftest import lta_clip, oscc_clip

Tiny = Callable[..., Path]


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist") as info:
        Ego4DDataset(tmp_path / "nope")
    assert "fho_lta_taxonomy.json" in str(info.value)  # the expected layout is shown


def test_missing_taxonomy_shows_layout(tiny: Tiny) -> None:
    root = tiny()
    (root / "annotations" / "fho_lta_taxonomy.json").unlink()
    with pytest.raises(DataError, match="Missing annotation file .*fho_lta_taxonomy.json") as info:
        Ego4DDataset(root)
    msg = str(info.value)
    assert "Expected layout" in msg and "fho_oscc-pnr_{train,val}.json" in msg and "<video_uid>.pt" in msg


def test_no_annotation_file_shows_layout(tiny: Tiny) -> None:
    with pytest.raises(DataError, match="No annotation file") as info:
        Ego4DDataset(tiny(lta={}, oscc={}))
    assert "fho_lta_{train,val}.json" in str(info.value)


def test_missing_split_file_shows_layout(tiny: Tiny) -> None:
    ds = Ego4DDataset(tiny(oscc={}))
    with pytest.raises(DataError, match=r"Missing annotation file .*fho_oscc-pnr_train.json") as info:
        ds.state_clips("train")
    assert "Expected layout" in str(info.value)


def test_missing_feature_folder(tiny: Tiny) -> None:
    root = tiny()
    for p in (root / "omnivore_video_swinl").iterdir():
        p.unlink()
    (root / "omnivore_video_swinl").rmdir()
    with pytest.raises(DataError, match="Missing feature folder") as info:
        Ego4DDataset(root)
    assert "Expected layout" in str(info.value)


def test_features_flag_names_the_folder(tiny: Tiny) -> None:
    root = tiny()
    (root / "omnivore_video_swinl").rename(root / "slowfast8x8_r101_k400")
    assert Ego4DDataset(root, features="slowfast8x8_r101_k400").feature_dim == 8
    with pytest.raises(DataError, match="omnivore_video_swinl"):
        Ego4DDataset(root)


@pytest.mark.parametrize(
    ("taxonomy", "match"),
    [
        (b"{not json", "Cannot read annotation file"),
        ([1, 2], "'taxonomy'.*Expected an object"),
        ({"nouns": ["a"]}, "'verbs'.*Got missing"),
        ({"verbs": [], "nouns": ["a"]}, "'verbs'.*non-empty list of strings"),
        ({"verbs": ["a", 3], "nouns": ["a"]}, "'verbs'"),
        ({"verbs": ["a", "a"], "nouns": ["b"]}, "'verbs'.*unique names.*'a' twice"),
    ],
)
def test_bad_taxonomy(tiny: Tiny, taxonomy: Any, match: str) -> None:
    with pytest.raises(DataError, match=match) as info:
        Ego4DDataset(tiny(taxonomy=taxonomy))
    assert "fho_lta_taxonomy.json" in str(info.value)


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    for k, v in changes.items():
        if v is _DROP:
            del out[k]
        else:
            out[k] = v
    return out


_DROP = object()

LTA_CASES = [
    (dict(verb_label=_DROP), "'verb_label'", "the field to be present", "nothing"),
    (dict(verb_label=3), "'verb_label'", "an integer in [0, 3)", "Got 3"),
    (dict(noun_label=2), "'noun_label'", "an integer in [0, 2)", "Got 2"),
    (dict(noun_label=-1), "'noun_label'", "an integer in [0, 2)", "Got -1"),
    (dict(verb_label="cut"), "'verb_label'", "an integer", "Got 'cut'"),
    (dict(verb_label=True), "'verb_label'", "an integer", "Got True"),
    (dict(action_clip_start_frame=-5), "'action_clip_start_frame'", "an integer in [0,", "Got -5"),
    (dict(action_clip_start_frame=1.5), "'action_clip_start_frame'", "an integer", "Got 1.5"),
    (dict(action_clip_end_frame=0), "'action_clip_end_frame'", "> action_clip_start_frame (0)", "Got 0"),
    (
        dict(clip_parent_start_frame=2**60),
        "'clip_parent_start_frame'",
        "an integer in [0,",
        "Got 1152921504606846976",
    ),
    (dict(video_uid=7), "'video_uid'", "a non-empty string", "Got 7"),
    (dict(video_uid=""), "'video_uid'", "a non-empty string", "Got ''"),
    (dict(video_uid="../etc"), "'video_uid'", "without '/'", "../etc"),
    (dict(clip_uid=None), "'clip_uid'", "a non-empty string", "Got None"),
    (dict(action_idx="0"), "'action_idx'", "an integer", "Got '0'"),
]


@pytest.mark.parametrize(("changes", "field", "expected", "got"), LTA_CASES)
def test_bad_lta_clip(tiny: Tiny, changes: dict[str, Any], field: str, expected: str, got: str) -> None:
    good = lta_clip("v1", "clip-A")
    root = tiny(lta={"train": [good, _with(lta_clip("v1", "clip-A", 1), **changes)], "val": [good]})
    with pytest.raises(DataError) as info:
        Ego4DDataset(root)
    msg = str(info.value)
    assert "fho_lta_train.json" in msg and field in msg and expected in msg and got in msg
    assert "\n" not in msg  # one line
    if field != "'clip_uid'":
        assert "clip 'clip-A'" in msg  # names the clip


OSCC_CASES = [
    (dict(state_change="yes"), "'state_change'", "true or false", "'yes'"),
    (dict(state_change=True, parent_pnr_frame=None), "'parent_pnr_frame'", "an integer", "None"),
    (dict(parent_pnr_frame=500), "'parent_pnr_frame'", "an integer in [0, 241)", "Got 500"),
    (dict(state_change=False, parent_pnr_frame=50), "'parent_pnr_frame'", "null", "Got 50"),
    (dict(parent_end_frame=0), "'parent_end_frame'", "> parent_start_frame (0)", "Got 0"),
    (dict(parent_start_sec="0"), "'parent_start_sec'", "a finite number", "'0'"),
    (dict(parent_end_sec=float("nan")), "'parent_end_sec'", "a finite number", "nan"),
    (dict(unique_id=["x"]), "'unique_id'", "a non-empty string", "['x']"),
    (dict(parent_start_frame=_DROP), "'parent_start_frame'", "present", "nothing"),
]


@pytest.mark.parametrize(("changes", "field", "expected", "got"), OSCC_CASES)
def test_bad_oscc_clip(tiny: Tiny, changes: dict[str, Any], field: str, expected: str, got: str) -> None:
    root = tiny(oscc={"train": [oscc_clip("ok"), _with(oscc_clip("bad-1"), **changes)]})
    with pytest.raises(DataError) as info:
        Ego4DDataset(root)
    msg = str(info.value)
    assert "fho_oscc-pnr_train.json" in msg and field in msg and expected in msg and got in msg
    if field != "'unique_id'":
        assert "'bad-1'" in msg


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"clips": {"a": 1}}, "'clips'.*a list under the key 'clips'. Got a dict"),
        ({"videos": []}, "'clips'.*Got no key 'clips'"),
        (b"[]", "'clips'.*Got a JSON list"),
        ({"clips": [42]}, "clip #0: expected an object. Got int"),
        (b"\xff\xfe garbage", "Cannot read annotation file"),
    ],
)
def test_bad_annotation_file(tiny: Tiny, content: Any, match: str) -> None:
    with pytest.raises(DataError, match=match):
        Ego4DDataset(tiny(lta={"train": content, "val": [lta_clip()]}))


def test_duplicated_clips(tiny: Tiny) -> None:
    with pytest.raises(DataError, match=r"duplicated clip \('c1', 0\)"):
        Ego4DDataset(tiny(lta={"train": [lta_clip(), lta_clip(start=30, end=60)]}))
    with pytest.raises(DataError, match="duplicated clip 'u1'"):
        Ego4DDataset(tiny(oscc={"train": [oscc_clip(), oscc_clip()]}))


def test_empty_split(tiny: Tiny) -> None:
    with pytest.raises(DataError, match=r"Empty split: .*fho_lta_val.json"):
        Ego4DDataset(tiny(lta={"train": [lta_clip()], "val": []}))


def test_skip_invalid_counts(tiny: Tiny) -> None:
    clips = [lta_clip(), lta_clip(action_idx=1, verb=9), lta_clip(action_idx=2, start="x"), lta_clip()]
    with pytest.warns(UserWarning, match="skipped 3 invalid clip"):
        ds = Ego4DDataset(tiny(lta={"train": clips}), skip_invalid=True)
    assert [c.action_idx for c in ds.action_clips("train")] == [0]


def _lta_on(*uids: str) -> dict[str, list[dict[str, Any]]]:
    return {"train": [lta_clip(u, f"c-{u}") for u in uids]}


def test_missing_feature_files_listed(tiny: Tiny) -> None:
    root = tiny(lta=_lta_on("v1", *[f"gone{i}" for i in range(7)]), oscc={})
    with pytest.raises(DataError) as info:
        Ego4DDataset(root)
    msg = str(info.value)
    assert "7 clip(s) of 7 video(s) have no feature file" in msg
    assert "gone0, gone1, gone2, gone3, gone4, ..." in msg and "skip_missing" in msg


def test_missing_ids_shown_on_one_line(tiny: Tiny) -> None:
    with pytest.raises(DataError) as info:
        Ego4DDataset(tiny(lta=_lta_on("v1", "bad\nid"), oscc={}))
    assert "\n" not in str(info.value) and "'bad\\nid'" in str(info.value)


def test_skip_missing_warns_and_drops(tiny: Tiny) -> None:
    root = tiny(lta=_lta_on("v1", "gone1", "gone2"), oscc={})
    with pytest.warns(UserWarning, match=r"2 clip\(s\) of 2 video\(s\) have no feature file.*dropped"):
        ds = Ego4DDataset(root, skip_missing=True)
    assert [c.video_uid for c in ds.action_clips("train")] == ["v1"]


def test_skip_missing_everything_is_an_empty_split(tiny: Tiny) -> None:
    with pytest.warns(UserWarning), pytest.raises(DataError, match="Empty split"):
        Ego4DDataset(tiny(lta=_lta_on("gone"), oscc={}), skip_missing=True)


def test_different_dimensions_name_both_files(tiny: Tiny) -> None:
    feats = {"v1.pt": np.ones((20, 8), np.float32), "v2.pt": np.ones((20, 6), np.float32)}
    with pytest.raises(DataError) as info:
        Ego4DDataset(tiny(lta=_lta_on("v1", "v2"), oscc={}, features=feats))
    msg = str(info.value)
    assert "v1.pt" in msg and "v2.pt" in msg and "D = 8" in msg and "D = 6" in msg


def test_frames_beyond_features_one_warning(tiny: Tiny) -> None:
    # 20 steps cover frames < 320; two LTA clips and one OSCC clip reach beyond
    lta = {
        "train": [
            lta_clip(end=319),
            lta_clip(action_idx=1, end=400),
            lta_clip(action_idx=2, start=5000, end=6000),
        ]
    }
    oscc = {"train": [oscc_clip(end=330, pnr=100)]}
    with pytest.warns(UserWarning) as record:
        ds = Ego4DDataset(tiny(lta=lta, oscc=oscc))
    msgs = [str(w.message) for w in record]
    assert len(msgs) == 1 and msgs[0].startswith("3 clip(s) reach beyond the end")
    assert "2 in fho_lta_train.json" in msgs[0] and "1 in fho_oscc-pnr_train.json" in msgs[0]
    assert len(ds.action_clips("train")) == 3  # kept, clipped when sampled


def _pt_bytes(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _feature_cases() -> list[tuple[str, Any, str]]:
    import torch

    good = _pt_bytes(torch.ones(20, 8))
    nan = torch.ones(20, 8)
    nan[3, 2] = float("nan")
    return [
        ("v1.pt", good[: len(good) // 2], "cannot be read by torch.load"),
        ("v1.pt", b"", "cannot be read by torch.load"),
        (
            "v1.pt",
            _pt_bytes(torch.ones(20, 8, dtype=torch.int64)),
            "expected a float tensor. Got dtype torch.int64",
        ),
        ("v1.pt", _pt_bytes(torch.ones(20)), r"expected rank 2 \[T, D\]. Got shape \(20,\)"),
        ("v1.pt", _pt_bytes(torch.ones(2, 20, 8)), "expected rank 2"),
        ("v1.pt", _pt_bytes(torch.ones(0, 8)), r"at least one step.*Got shape \(0, 8\)"),
        ("v1.pt", _pt_bytes(torch.full((20, 8), float("nan"))), "NaN or inf in 20 of 20 steps"),
        ("v1.pt", _pt_bytes(nan), "NaN or inf in 1 of 20 steps"),
        ("v1.pt", _pt_bytes({"feats": torch.ones(20, 8)}), "expected a float tensor .T, D.. Got dict"),
        ("v1.npy", _npy_bytes(np.ones((20, 8), np.float32))[:-100], "cannot be read by numpy.load"),
        ("v1.npy", _npy_bytes(np.ones((20, 8), np.int32)), "expected a float array. Got dtype int32"),
        ("v1.npy", _npy_bytes(np.array([{"a": 1}], dtype=object)), "cannot be read by numpy.load"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_bad_feature_file(tiny: Tiny, case: int) -> None:
    name, content, match = _feature_cases()[case]
    with pytest.raises(DataError, match=match) as info:
        Ego4DDataset(tiny(features={name: content}))
    assert f"omnivore_video_swinl/{name}" in str(info.value)


def test_errors_are_value_errors(tiny: Tiny) -> None:
    with pytest.raises(ValueError):
        Ego4DDataset(tiny(taxonomy={"verbs": 1}))
    assert issubclass(DataError, BackpackError)


def test_unreadable_cache_dir(tiny: Tiny, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match="Cannot write the feature cache"):
        Ego4DDataset(tiny(), cache_dir=blocker / "cache")


def test_json_nan_frames(tiny: Tiny) -> None:
    root = tiny()
    path = root / "annotations" / "fho_lta_val.json"
    path.write_text(
        json.dumps({"clips": [lta_clip()]}).replace(
            '"action_clip_start_frame": 0', '"action_clip_start_frame": NaN'
        )
    )
    with pytest.raises(DataError, match="'action_clip_start_frame'.*an integer.*Got nan"):
        Ego4DDataset(root)
