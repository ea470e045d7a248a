"""Bad input, one test per case: the error names what/where/expected/found, and nothing stored is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backpack.errors import (
    BackpackError,
    FormatVersionError,
    NotAStoreError,
    NotFoundError,
    ReadOnlyError,
    StoreError,
)
from backpack.store import Backpack
from tests.store.store_data import NOUNS, VERBS, TaskData, add, make_task


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Backpack]:
    """A writable store with version 1 (task 'ar', 40 x 16); checked intact after each test."""
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    with bp.new_version(message="good") as v:
        add(v, "ar", make_task(1))
    before = sorted(bp.backend.list(""))
    yield bp
    after = Backpack.open(tmp_path / "s")
    assert after.versions() == [1] and after.verify() == []
    # nothing that existed was removed or changed (failed adds may only leave nothing behind)
    assert set(before) <= set(after.backend.list(""))


def _add(bp: Backpack, **over: Any) -> None:
    data = make_task(5)
    kw = {"prototypes": data.prototypes, "keys": data.keys, "support": data.support}
    kw.update(over)
    with bp.new_version(message="bad") as v:
        v.add_task("lta", **kw)


def test_wrong_dim_on_add(store: Backpack) -> None:
    with pytest.raises(BackpackError, match=r"Invalid value for 'dim' in task 'lta'. Expected 32. Got 16."):
        data = make_task(5)
        with store.new_version() as v:
            v.add_task("lta", data.prototypes, data.keys, data.support, dim=32)


def test_prototypes_not_2d(store: Backpack) -> None:
    with pytest.raises(
        BackpackError, match=r"'prototypes' in task 'lta'. Expected a 2-D array.*Got shape \(640,\)"
    ):
        _add(store, prototypes=make_task(5).prototypes.ravel())


def test_keys_wrong_shape(store: Backpack) -> None:
    with pytest.raises(
        BackpackError, match=r"'keys' in task 'lta'. Expected shape \(40, 2\). Got shape \(40, 3\)"
    ):
        _add(store, keys=np.zeros((40, 3), np.int32))


def test_support_wrong_length(store: Backpack) -> None:
    with pytest.raises(
        BackpackError, match=r"'support' in task 'lta'. Expected shape \(40,\). Got shape \(39,\)"
    ):
        _add(store, support=np.ones(39, np.int64))


def test_support_below_one(store: Backpack) -> None:
    support = np.ones(40, np.int64)
    support[7] = 0
    with pytest.raises(BackpackError, match=r"'support\[7\]' in task 'lta'. Expected >= 1. Got 0."):
        _add(store, support=support)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_prototypes(store: Backpack, bad: float) -> None:
    protos = make_task(5).prototypes.copy()
    protos[3, 4] = bad
    with pytest.raises(BackpackError, match=r"'prototypes\[3, 4\]' in task 'lta'. Expected a finite number"):
        _add(store, prototypes=protos)


def test_zero_prototype(store: Backpack) -> None:
    protos = make_task(5).prototypes.copy()
    protos[2] = 0
    with pytest.raises(BackpackError, match=r"'prototypes\[2\]'.*non-zero"):
        _add(store, prototypes=protos)


def test_duplicate_keys(store: Backpack) -> None:
    keys = make_task(5).keys.copy()
    keys[9] = keys[4]
    with pytest.raises(BackpackError, match=r"distinct \(verb, noun\) keys. Got .* at rows \[4, 9\]"):
        _add(store, keys=keys)


@pytest.mark.parametrize(
    ("col", "value", "label", "n"),
    [
        (0, len(VERBS), "verb id", len(VERBS)),
        (1, len(NOUNS) + 3, "noun id", len(NOUNS)),
        (0, -1, "verb id", len(VERBS)),
    ],
)
def test_keys_outside_vocabulary(store: Backpack, col: int, value: int, label: str, n: int) -> None:
    keys = make_task(5).keys.copy()
    keys[6, col] = value
    with pytest.raises(
        BackpackError, match=rf"'keys\[6\]' in task 'lta'. Expected {label} in \[0, {n}\).*Got {value}."
    ):
        _add(store, keys=keys)


def test_float_keys(store: Backpack) -> None:
    with pytest.raises(BackpackError, match="dtype of keys.*Expected int or uint. Got float32"):
        _add(store, keys=make_task(5).keys.astype(np.float32))


def test_empty_task(store: Backpack) -> None:
    with pytest.raises(BackpackError, match="an empty task"):
        _add(
            store,
            prototypes=np.zeros((0, 16), np.float32),
            keys=np.zeros((0, 2), np.int32),
            support=np.zeros(0, np.int64),
        )


def test_bad_task_name(store: Backpack) -> None:
    data = make_task(5)
    with pytest.raises(BackpackError, match="task name"):
        with store.new_version() as v:
            v.add_task("../evil", data.prototypes, data.keys, data.support)


def test_unknown_task(store: Backpack) -> None:
    with pytest.raises(NotFoundError, match=r"Unknown task 'lta'.*Known tasks: \['ar'\]"):
        store.task("lta")
    with pytest.raises(NotFoundError, match=r"Known tasks: \['ar'\]"):
        with store.new_version() as v:
            v.remove_task("lta")


def test_unknown_version_and_tag(store: Backpack) -> None:
    with pytest.raises(NotFoundError, match=r"Unknown version 3 .*Known versions: 1..1"):
        Backpack.open(store.url, version=3)
    with pytest.raises(NotFoundError, match=r"Unknown version 0"):
        Backpack.open(store.url, version=0)
    with pytest.raises(NotFoundError, match=r"Unknown tag 'gold'.*Known tags: \[\]"):
        Backpack.open(store.url, version="gold")
    with pytest.raises(BackpackError, match="'version'.*Expected an int, a tag name or 'latest'"):
        Backpack.open(store.url, version=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["latest", "12", "a/b", "", "../x"])
def test_bad_tag_names(store: Backpack, name: str) -> None:
    with pytest.raises(BackpackError, match="tag name"):
        store.tag(name, 1)


def test_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.txt").write_text("hi")
    with pytest.raises(NotAStoreError, match=rf"'{tmp_path / 'plain'}' is not a backpack store"):
        Backpack.open(tmp_path / "plain")
    with pytest.raises(NotAStoreError):
        Backpack.open(tmp_path / "missing")


def test_newer_format_version(store: Backpack) -> None:
    root = Path(store.url) / "backpack.json"
    original = root.read_bytes()
    meta = json.loads(original)
    meta["format_version"] = 2
    root.write_text(json.dumps(meta))
    try:
        with pytest.raises(
            FormatVersionError, match=r"'format_version' in backpack.json of .* Expected <= 1. Got 2."
        ):
            Backpack.open(store.url)
    finally:
        root.write_bytes(original)


def test_newer_format_version_in_manifest(tmp_path: Path) -> None:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    with bp.new_version() as v:
        add(v, "ar", make_task(1))
    key = Path(bp.url) / "versions" / "00000001.json"
    meta = json.loads(key.read_text())
    meta["format_version"] = 3
    key.write_text(json.dumps(meta))
    with pytest.raises(FormatVersionError, match=r"manifest of version 1.*Expected <= 1. Got 3."):
        Backpack.open(bp.url).manifest


def test_write_through_read_only_handle(store: Backpack) -> None:
    ro = Backpack.open(store.url)
    with pytest.raises(ReadOnlyError, match="read-only handle"):
        ro.new_version(message="nope")
    with pytest.raises(ReadOnlyError):
        ro.tag("t", 1)


def test_empty_version(store: Backpack) -> None:
    with pytest.raises(StoreError, match="empty version"):
        with store.new_version() as v:
            v.remove_task("ar")


def test_bad_vocabulary(tmp_path: Path) -> None:
    with pytest.raises(BackpackError, match="'verbs'.*distinct names.*duplicates \\['a'\\]"):
        Backpack.create(tmp_path / "s", verbs=["a", "a"], nouns=["x"])
    with pytest.raises(BackpackError, match="'nouns'.*at least one name"):
        Backpack.create(tmp_path / "s", verbs=["a"], nouns=[])
    assert not (tmp_path / "s" / "backpack.json").exists()


def test_bad_provenance(store: Backpack) -> None:
    with pytest.raises(StoreError, match=r"provenance fields.*Got \['model'\]"):
        store.new_version(provenance={"model": "x"})


# -- queries ------------------------------------------------------------------------------------
def test_query_wrong_dim(store: Backpack) -> None:
    with pytest.raises(BackpackError, match=r"'query dim' in version 1, task 'ar' .* Expected 16. Got 8."):
        store.task("ar").search(np.ones((2, 8), np.float32), k=2)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_query_non_finite(store: Backpack, bad: float) -> None:
    q = np.ones((3, 16))
    q[2, 5] = bad
    with pytest.raises(
        BackpackError, match=r"'queries\[2, 5\]' in version 1, task 'ar'.*Expected a finite number"
    ):
        store.task("ar").search(q, k=2)


@pytest.mark.parametrize("k", [0, 41, -1, 2.0, True])
def test_query_bad_k(store: Backpack, k: Any) -> None:
    with pytest.raises(BackpackError, match=r"'k' in version 1, task 'ar'.*Expected an integer in \[1, 40\]"):
        store.task("ar").search(np.ones((1, 16)), k=k)


def test_query_not_2d(store: Backpack) -> None:
    with pytest.raises(BackpackError, match=r"'queries'.*Expected a 2-D array"):
        store.task("ar").search(np.ones(16), k=1)


def test_query_bad_dtype(store: Backpack) -> None:
    with pytest.raises(BackpackError, match="dtype of queries"):
        store.task("ar").search(np.array([["a"] * 16]), k=1)


def test_data_unchanged_after_failures(store: Backpack) -> None:
    """After a failed add the handle still reads version 1's exact data."""
    with pytest.raises(BackpackError):
        _add(store, support=np.zeros(40, np.int64))
    np.testing.assert_array_equal(store.task("ar").prototypes, make_task(1).prototypes)
    assert isinstance(make_task(1), TaskData)
