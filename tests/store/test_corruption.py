"""Damaged stores: checksums and metadata checks name version, task and array; nothing is
deserialised or allocated before it is checked."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import zarr

from backpack.errors import IntegrityError, StoreError
from backpack.store import Backpack
from tests.store.store_data import NOUNS, VERBS, add, make_task, resign


@pytest.fixture
def bp(tmp_path: Path) -> Backpack:
    """Version 1: ar + lta; version 2: lta replaced (ar shared with version 1)."""
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    with bp.new_version() as v:
        add(v, "ar", make_task(1))
        add(v, "lta", make_task(2))
    with bp.new_version() as v:
        add(v, "lta", make_task(3))
    return bp


def _group(bp: Backpack, task: str, version: int = 2) -> Path:
    return Path(bp.url) / bp.manifest_of(version).tasks[task].path


def _flip(path: Path, offset: int = 10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def test_flipped_byte_in_chunk(bp: Backpack) -> None:
    _flip(_group(bp, "ar") / "prototypes" / "c" / "0" / "0")
    reader = Backpack.open(bp.url)
    with pytest.raises(IntegrityError, match=r"version 2, task 'ar' .*array 'prototypes'"):
        reader.task("ar").prototypes
    problems = reader.verify()
    # the shared data is reported for both versions that use it, and nothing else is
    assert len(problems) == 2
    assert "version 1, task 'ar', array 'prototypes'" in problems[0]
    assert "version 2, task 'ar', array 'prototypes'" in problems[1]
    # untouched tasks still read
    np.testing.assert_array_equal(reader.task("lta").prototypes, make_task(3).prototypes)


def test_rewritten_chunk_fails_sha256(bp: Backpack) -> None:
    """A chunk replaced with valid zarr data (crc ok) is caught by the manifest's sha256."""
    arr = zarr.open_array(zarr.storage.LocalStore(_group(bp, "lta")), path="support", mode="r+")
    arr[0] = arr[0] + 1
    with pytest.raises(IntegrityError, match=r"Checksum mismatch for version 2, task 'lta'.*array 'support'"):
        Backpack.open(bp.url).task("lta").support


def test_missing_chunk(bp: Backpack) -> None:
    (_group(bp, "lta") / "keys" / "c" / "0" / "0").unlink()
    problems = Backpack.open(bp.url).verify()
    assert problems and all("version 2, task 'lta', array 'keys'" in p for p in problems)


def test_corrupt_index_never_deserialised(bp: Backpack, monkeypatch: pytest.MonkeyPatch) -> None:
    import faiss

    arr = zarr.open_array(zarr.storage.LocalStore(_group(bp, "ar")), path="index", mode="r+")
    arr[100] = (int(arr[100]) + 1) % 256
    calls = []
    monkeypatch.setattr(faiss, "deserialize_index", lambda *a: calls.append(a))
    with pytest.raises(IntegrityError, match=r"version 2, task 'ar'.*array 'index'"):
        Backpack.open(bp.url).task("ar").search(np.ones((1, 16)), k=1)
    assert calls == []


def test_zarr_metadata_claiming_other_shape(bp: Backpack) -> None:
    meta_path = _group(bp, "lta") / "prototypes" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["shape"] = [10**9, 16]
    meta_path.write_text(json.dumps(meta))
    tracemalloc.start()
    try:
        with pytest.raises(
            IntegrityError, match=r"Metadata mismatch .*array 'prototypes'. Expected \(40, 16\)"
        ):
            Backpack.open(bp.url).task("lta").prototypes
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def _edit_manifest(bp: Backpack, version: int, edit: object) -> None:
    path = Path(bp.url) / "versions" / f"{version:08d}.json"
    meta = json.loads(path.read_text())
    edit(meta)  # type: ignore[operator]
    path.write_text(json.dumps(resign(meta)))


@pytest.mark.parametrize(("count", "dim"), [(2**31 - 1, 16), (10**9, 4096), (40, 10**6)])
def test_manifest_absurd_sizes_refused(bp: Backpack, count: int, dim: int) -> None:
    def edit(meta: dict) -> None:
        t = meta["tasks"]["lta"]
        t["count"], t["dim"] = count, dim
        t["arrays"]["prototypes"]["shape"] = [count, dim]
        t["arrays"]["keys"]["shape"] = [count, 2]
        t["arrays"]["support"]["shape"] = [count]

    _edit_manifest(bp, 2, edit)
    tracemalloc.start()
    try:
        with pytest.raises(StoreError, match=r"manifest of version 2.*task 'lta'"):
            Backpack.open(bp.url).manifest
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
    assert any("version 2" in p for p in Backpack.open(bp.url, version=1).verify())


def test_manifest_large_but_bounded_count_checked_against_zarr(bp: Backpack) -> None:
    """Within the bounds, a count that disagrees with the zarr metadata is refused before reading."""

    def edit(meta: dict) -> None:
        t = meta["tasks"]["lta"]
        t["count"] = 10**8
        t["arrays"]["prototypes"]["shape"] = [10**8, 16]
        t["arrays"]["keys"]["shape"] = [10**8, 2]
        t["arrays"]["support"]["shape"] = [10**8]

    _edit_manifest(bp, 2, edit)
    tracemalloc.start()
    try:
        with pytest.raises(IntegrityError, match=r"Metadata mismatch .*Expected \(100000000, 16\)"):
            Backpack.open(bp.url).task("lta").prototypes
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.pop("tasks"), "Missing field 'tasks'"),
        (lambda m: m["tasks"]["ar"].update(metric="l2"), "'metric'.*Expected 'cosine'"),
        (lambda m: m["tasks"]["ar"].update(path="../../etc"), "'path'.*Expected a key under 'data/'"),
        (lambda m: m["tasks"]["ar"]["arrays"]["keys"].update(sha256="xyz"), "'sha256'.*64 lowercase hex"),
        (lambda m: m["tasks"]["ar"]["arrays"].pop("index"), "Missing array 'index'"),
        (lambda m: m.update(version=5), "'version'.*Expected 2. Got 5"),
        (lambda m: m.update(parent=2), "'parent'.*Expected None or 1 <= parent < 2"),
    ],
)
def test_manifest_bad_fields(bp: Backpack, edit: object, match: str) -> None:
    _edit_manifest(bp, 2, edit)
    with pytest.raises(StoreError, match=match):
        Backpack.open(bp.url).manifest
    (problem,) = Backpack.open(bp.url, version=1).verify()
    assert problem.startswith("version 2:")


def test_garbage_manifest(bp: Backpack) -> None:
    (Path(bp.url) / "versions" / "00000002.json").write_bytes(b"\x00\xffnot json")
    with pytest.raises(StoreError, match="Cannot parse manifest of version 2"):
        Backpack.open(bp.url).manifest
    assert Backpack.open(bp.url, version=1).task("ar").count == 40


def test_dangling_tag(bp: Backpack) -> None:
    (Path(bp.url) / "tags").mkdir(exist_ok=True)
    (Path(bp.url) / "tags" / "old.json").write_text(json.dumps({"version": 9}))
    assert Backpack.open(bp.url).verify() == ["tag 'old': names version 9, which does not exist"]


def test_manifest_vocabulary_mismatch(bp: Backpack) -> None:
    _edit_manifest(bp, 2, lambda m: m["vocabulary"]["nouns"].append("extra"))
    # the re-signed manifest is still caught by head.json, which recorded its checksum
    assert Backpack.open(bp.url).verify() == [
        "version 2: vocabulary differs from backpack.json",
        "version 2: its manifest changed since it was published (head.json)",
    ]


def test_crafted_flat_index_with_valid_checksum(bp: Backpack) -> None:
    """A hostile writer's flat index claiming 8 GiB (its sha256 matches) is refused before faiss."""
    from backpack.store._arrays import write_group

    view = Backpack.open(bp.url).task("ar")
    raw = np.array(view._array("index"))
    pos = raw.shape[0] - 4 * 40 * 16 - 8
    raw[pos : pos + 8] = np.frombuffer(np.uint64(2**31).tobytes(), np.uint8)
    arrays = {n: np.asarray(getattr(view, n)) for n in ("prototypes", "keys", "support")}
    entries = write_group(bp.backend, "data/ar-crafted", dict(arrays, index=raw), {})
    _edit_manifest(
        bp,
        2,
        lambda m: (
            m["tasks"]["ar"].update(path="data/ar-crafted/")
            or m["tasks"]["ar"]["arrays"].update(index=entries["index"].to_dict())
        ),
    )
    with pytest.raises(
        IntegrityError, match=r"does not have the flat layout.*Expected \d+ bytes for 40 x 16"
    ):
        Backpack.open(bp.url).task("ar").index
