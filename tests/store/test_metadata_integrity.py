"""Metadata has the arrays' protection: edited, deleted or re-chained manifests and tags are reported."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.errors import IntegrityError, StoreError
from backpack.store import Backpack
from backpack.store._index import deserialize, serialize
from backpack.store.manifest import IndexSpec
from tests.store.store_data import NOUNS, VERBS, add, make_task, resign


@pytest.fixture
def store(tmp_path: Path) -> Path:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    for i, name in enumerate(("ar", "lta", "oscc", "pnr")):
        with bp.new_version(message=f"add {name}") as v:
            add(v, name, make_task(i + 1))
    bp.tag("stable", 2)
    return tmp_path / "s"


def _manifest(store: Path, n: int) -> Path:
    return store / "versions" / f"{n:08d}.json"


def _edit(path: Path, change: object, sign: bool = False) -> None:
    meta = json.loads(path.read_text())
    change(meta)  # type: ignore[operator]
    path.write_text(json.dumps(resign(meta) if sign else meta))


def test_clean_store_verifies(store: Path) -> None:
    bp = Backpack.open(store)
    assert bp.verify() == [] and bp.orphans() == []
    m = bp.manifest_of(3)
    assert m.parent_sha256 == bp.manifest_sha256(2) and len(m.sha256 or "") == 64


def test_edited_message_is_refused(store: Path) -> None:
    _edit(_manifest(store, 2), lambda m: m.update(message="forged"))
    with pytest.raises(IntegrityError, match="manifest of version 2.*changed after it was published"):
        Backpack.open(store).manifest_of(2)
    problems = Backpack.open(store).verify()
    assert any(p.startswith("version 2: Checksum mismatch") for p in problems), problems


def test_resigned_edit_of_a_middle_version_breaks_the_chain(store: Path) -> None:
    _edit(_manifest(store, 2), lambda m: m.update(message="forged"), sign=True)
    problems = Backpack.open(store).verify()
    assert "version 3: its parent version 2 changed since it was published" in " ".join(problems)
    assert any(p.startswith("tag 'stable': version 2's manifest changed") for p in problems), problems


def test_resigned_edit_of_the_latest_is_caught_by_head(store: Path) -> None:
    _edit(_manifest(store, 4), lambda m: m.update(message="forged"), sign=True)
    assert Backpack.open(store).verify() == [
        "version 4: its manifest changed since it was published (head.json)"
    ]


@pytest.mark.parametrize(("deleted", "expected"), [(2, "a version"), (4, "the latest version")])
def test_deleted_manifest_is_reported(store: Path, deleted: int, expected: str) -> None:
    _manifest(store, deleted).unlink()
    problems = Backpack.open(store).verify()
    assert f"version {deleted}: its manifest is missing ({expected}" in " ".join(problems), problems
    out = CliRunner().invoke(cli, ["verify", str(store)])
    assert out.exit_code == 1 and "its manifest is missing" in out.output


def test_edited_tag_is_reported(store: Path) -> None:
    _edit(store / "tags" / "stable.json", lambda t: t.update(version=3))
    problems = Backpack.open(store).verify()
    assert problems == [
        f"tag 'stable': Checksum mismatch for tag 'stable' of store {str(store)!r}: "
        "its content was changed after it was set."
    ]


def test_old_stores_without_checksums_still_verify(store: Path) -> None:
    for path in (store / "versions").glob("*.json"):
        _edit(path, lambda m: [m.pop(k) for k in ("manifest_sha256", "parent_sha256")])
    for path in (store / "tags").glob("*.json"):
        _edit(path, lambda t: [t.pop(k) for k in ("manifest_sha256", "sha256")])
    (store / "head.json").unlink()
    bp = Backpack.open(store)
    assert bp.verify() == [] and bp.versions() == [1, 2, 3, 4]
    with Backpack.open(store, mode="a").new_version() as v:  # and a new writer chains onto them
        add(v, "x", make_task(9))
    assert Backpack.open(store).verify() == []


def test_partial_bundle_is_not_a_deleted_manifest(store: Path, tmp_path: Path) -> None:
    bundle = Backpack.open(store).export(tmp_path / "b.zip", versions=[3, 4])
    assert Backpack.open(bundle).verify() == []


@pytest.mark.parametrize(("knob", "value"), [("nprobe", 0), ("nlist", -1), ("efSearch", 0), ("M", True)])
def test_bad_index_setting_is_refused_when_opened(store: Path, knob: str, value: object) -> None:
    def change(m: dict) -> None:
        m["tasks"]["pnr"]["index"] = {
            "type": "hnsw" if knob in ("efSearch", "M") else "ivf",
            "params": {knob: value},
        }

    _edit(_manifest(store, 4), change, sign=True)
    with pytest.raises(StoreError, match=rf"Invalid value for '{knob}'"):
        Backpack.open(store).manifest
    assert any(knob in p for p in Backpack.open(store).verify())


def test_approximate_index_ids_outside_the_rows_are_refused() -> None:
    rng = np.random.default_rng(0)
    xb = rng.normal(size=(200, 8)).astype(np.float32)
    faiss.normalize_L2(xb)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(8), 8, 4, faiss.METRIC_INNER_PRODUCT)
    ivf.train(xb)
    ivf.add_with_ids(xb, np.arange(200, dtype=np.int64) + 150)  # ids 150..349 for 200 rows
    spec = IndexSpec("ivf", {"nlist": 4, "nprobe": 2})
    with pytest.raises(IntegrityError, match="refers to rows outside the task's 200 rows"):
        deserialize(serialize(ivf), spec, 8, 200, "task 'ar'")
    good = faiss.IndexIVFFlat(faiss.IndexFlatIP(8), 8, 4, faiss.METRIC_INNER_PRODUCT)
    good.train(xb)
    good.add(xb)
    assert deserialize(serialize(good), spec, 8, 200, "task 'ar'").ntotal == 200
    with pytest.raises(IntegrityError, match="not of the kind"):
        deserialize(serialize(good), IndexSpec("hnsw", {}), 8, 200, "task 'ar'")
