"""Fuzzed annotation files never crash with a raw traceback: a one-line DataError, or skipped clips.

More examples with ``BACKPACK_FUZZ_EXAMPLES=2000``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backpack.data import Ego4DDataset
from backpack.errors import DataError

from .conftest import TAXONOMY, lta_clip, oscc_clip

EXAMPLES = int(os.environ.get("BACKPACK_FUZZ_EXAMPLES", "200"))
UIDS = ["v1", "vidéo-ü", "視頻-7"]  # videos that have features (unicode names included)

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=False),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
uid = st.sampled_from(UIDS) | st.text(min_size=0, max_size=8)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(json_value)  # not even an object
    clip = dict(base)
    for field in draw(st.lists(st.sampled_from(sorted(base)), max_size=3, unique=True)):
        action = draw(st.integers(0, 3))
        if action == 0:
            del clip[field]
        elif action == 1:
            clip[field] = draw(json_value)
        elif action == 2:
            clip[field] = draw(st.integers(min_value=-(2**62), max_value=2**62))
        else:
            clip[field] = draw(uid)
    return clip


@st.composite
def lta_records(draw: st.DrawFn) -> list[Any]:
    n = draw(st.integers(0, 6))
    out = []
    for i in range(n):
        start = draw(st.integers(0, 1000))
        base = lta_clip(
            draw(st.sampled_from(UIDS)),
            draw(uid),
            i,
            start,
            start + draw(st.integers(1, 500)),
            draw(st.integers(-1, 3)),
            draw(st.integers(-1, 2)),
            draw(st.integers(0, 10**6)),
        )
        out.append(draw(mutated(base)) if draw(st.booleans()) else base)
    if out and draw(st.booleans()):
        out.append(out[draw(st.integers(0, len(out) - 1))])  # a duplicated clip
    return out


@st.composite
def oscc_records(draw: st.DrawFn) -> list[Any]:
    out = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, 1000))
        change = draw(st.booleans())
        pnr = start + draw(st.integers(0, 240)) if change else None
        base = oscc_clip(draw(uid), draw(st.sampled_from(UIDS)), start, start + 240, change, pnr)
        out.append(draw(mutated(base)) if draw(st.booleans()) else base)
    if out and draw(st.booleans()):
        out.append(out[0])
    return out


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One feature folder (linked into every example) and one cache: nothing is converted twice."""
    base = tmp_path_factory.mktemp("fuzz")
    feats = base / "features"
    feats.mkdir()
    for i, name in enumerate(UIDS):
        np.save(feats / f"{name}.npy", np.full((40, 4), float(i), np.float32))
    return feats, base / "cache"


def _check(root: Path, cache: Path, skip: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = Ego4DDataset(root, cache_dir=cache, skip_invalid=skip, skip_missing=skip)
        except DataError as exc:
            msg = str(exc)
            assert msg and "\n" not in msg, msg  # one line
            assert "fho_" in msg, msg  # names the file
            if msg.startswith("Invalid value for") and "'clips'" not in msg:
                assert " clip " in msg or "clip #" in msg, msg  # names the clip
            if skip:
                assert "Empty split" in msg or "Cannot read" in msg or "'clips'" in msg, msg
            return
    for split in ("train",):
        for c in ds.action_clips(split) if (root / "annotations/fho_lta_train.json").exists() else []:
            assert c.end_frame > c.start_frame >= 0 and 0 <= c.verb < 3 and 0 <= c.noun < 2


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lta=lta_records(),
    oscc=oscc_records(),
    which=st.sampled_from(["lta", "oscc", "both"]),
    raw=st.one_of(st.none(), st.binary(max_size=30)),
    skip=st.booleans(),
)
def test_fuzzed_annotations_never_crash(
    shared: tuple[Path, Path], lta: list[Any], oscc: list[Any], which: str, raw: bytes | None, skip: bool
) -> None:
    feats, cache = shared
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ann = root / "annotations"
        ann.mkdir()
        (root / "omnivore_video_swinl").symlink_to(feats, target_is_directory=True)
        (ann / "fho_lta_taxonomy.json").write_text(json.dumps(TAXONOMY))
        if which in ("lta", "both"):
            text = raw if raw is not None and which == "lta" else json.dumps({"clips": lta}).encode()
            (ann / "fho_lta_train.json").write_bytes(text)
        if which in ("oscc", "both"):
            (ann / "fho_oscc-pnr_train.json").write_text(json.dumps({"clips": oscc}))
        _check(root, cache, skip)
