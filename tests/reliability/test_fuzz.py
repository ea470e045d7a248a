"""Hypothesis fuzzing of the manifest and bundle readers: hostile input gives a house error, never a crash.

A *crash* is any exception other than :class:`~backpack.errors.BackpackError` (TypeError,
KeyError, OverflowError...). Counts of tried and refused inputs are printed. The default sizes
run in CI time; ``BACKPACK_FUZZ_EXAMPLES=N`` tries N fuzzed manifests (default 1,500) and scales the
other readers' sizes with it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backpack.errors import BackpackError
from backpack.store import Backpack, import_bundle
from backpack.store import _format as fmt
from backpack.store.manifest import Manifest
from tests.reliability.rel_common import content_problems, new_store, publish

SCALE = int(os.environ.get("BACKPACK_FUZZ_EXAMPLES", "1500")) / 1500
CFG = dict(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:4]):
            yield from _paths(v, prefix + (i,))


def _mutate(doc: Any, data: st.DataObject) -> Any:
    """Delete, replace or retype 1-4 nodes anywhere in ``doc`` (a parsed manifest)."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        paths = list(_paths(doc))
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        op = data.draw(st.sampled_from(["delete", "replace", "huge", "negative"]), label="op")
        if op == "delete":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = data.draw(JSON, label="value")
        else:
            parent[path[-1]] = 2**63 if op == "huge" else -1
    return doc


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    bp = new_store(root / "store")
    publish(bp, 2)
    bp.tag("stable", 1)
    bp.export(root / "good.zip")
    return root


def test_fuzz_manifest_from_dict(source: Path) -> None:
    valid = json.loads((source / "store/versions/00000002.json").read_text())
    counts: Counter[str] = Counter()

    @settings(max_examples=int(1500 * SCALE), **CFG)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        counts["tried"] += 1
        try:
            Manifest.from_dict(_mutate(valid, data), "fuzzed manifest")
            counts["accepted"] += 1
        except BackpackError:
            counts["refused"] += 1

    run()
    print(
        f"\nmanifest.from_dict fuzz: {counts['accepted'] + counts['refused']} inputs, {dict(counts)}; "
        "crashes: 0"
    )
    assert counts["tried"] >= 1000 * SCALE and counts["refused"] > counts["tried"] // 2


def test_fuzz_metadata_bytes() -> None:
    counts: Counter[str] = Counter()

    @settings(max_examples=int(600 * SCALE), **CFG)
    @given(st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
    def run(raw: bytes) -> None:
        counts["tried"] += 1
        try:
            obj = fmt.loads(raw, "fuzzed file")
            Manifest.from_dict(obj, "fuzzed file")
        except BackpackError:
            counts["refused"] += 1

    run()
    print(f"\nmetadata bytes fuzz: {dict(counts)}; crashes: 0")
    assert counts["tried"] >= 300 * SCALE


def test_fuzz_store_reader(source: Path, tmp_path: Path) -> None:
    """A fuzzed manifest inside a real store: open, read every task, search and verify."""
    valid = json.loads((source / "store/versions/00000002.json").read_text())
    counts: Counter[str] = Counter()
    import numpy as np

    @settings(max_examples=int(25 * SCALE), **CFG)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        counts["tried"] += 1
        store = tmp_path / "s"
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(source / "store", store)
        (store / "versions/00000002.json").write_text(json.dumps(_mutate(valid, data)))
        try:
            bp = Backpack.open(store, version=2)
            for name in bp.task_names:
                view = bp.task(name)
                view.search(np.ones((2, view.dim), np.float32), k=min(3, view.count))
            bp.verify()
            counts["served"] += 1
        except BackpackError:
            counts["refused"] += 1
        assert content_problems(Backpack.open(store, version=1), [1]) == []  # v1 unaffected

    run()
    print(f"\nstore reader fuzz: {dict(counts)}; crashes: 0")


def test_fuzz_bundle_import(source: Path, tmp_path: Path) -> None:
    """Random byte flips, truncations and renamed entries in a real bundle: import refuses cleanly
    (nothing left at the destination or next to it) or imports a store that fully verifies."""
    good = (source / "good.zip").read_bytes()
    with zipfile.ZipFile(source / "good.zip") as zf:
        names = zf.namelist()
    counts: Counter[str] = Counter()

    @settings(max_examples=int(120 * SCALE), **CFG)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        counts["tried"] += 1
        raw = bytearray(good)
        kind = data.draw(st.sampled_from(["flip", "truncate", "rename"]), label="kind")
        if kind == "flip":
            for _ in range(data.draw(st.integers(1, 8), label="flips")):
                pos = data.draw(st.integers(0, len(raw) - 1), label="pos")
                raw[pos] ^= data.draw(st.integers(1, 255), label="mask")
        elif kind == "truncate":
            raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
        else:
            old = data.draw(st.sampled_from(names), label="entry").encode()
            # (A NUL byte is covered by test_rel_hostile_bundle.py::test_nul_in_entry_name.)
            new = data.draw(st.sampled_from([b"../", b"/", b"\\", b".."]), label="bad")
            raw = bytearray(bytes(raw).replace(old, (new + old)[: len(old)]))  # same length
        work = tmp_path / f"w{counts['tried']}"
        work.mkdir()
        bundle = work / "b.zip"
        bundle.write_bytes(bytes(raw))
        dest = work / "dest"
        try:
            bp = import_bundle(bundle, dest)
            assert content_problems(bp) == []
            counts["imported"] += 1
        except BackpackError:
            counts["refused"] += 1
            assert not dest.exists()
            assert sorted(p.name for p in work.iterdir()) == ["b.zip"], "a refused import left files"
        shutil.rmtree(work)

    run()
    print(f"\nbundle import fuzz: {dict(counts)}; crashes: 0")
    assert counts["refused"] > 0
