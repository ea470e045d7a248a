"""Store conformance: one class of read tests run on every backend kind (see conftest.py),
one class of write tests on every kind that can publish."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backpack.errors import ConflictError, NotFoundError, ReadOnlyError
from backpack.store import Backpack, diff
from tests.store.store_data import NOUNS, VERBS, Reference, add, make_task


def brute_force(protos: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    p = protos / np.linalg.norm(protos, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    s = q.astype(np.float64) @ p.T.astype(np.float64)
    ids = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, ids, axis=1), ids


class TestReadConformance:
    def test_versions_tags_latest(self, backend_url: Reference) -> None:
        bp = backend_url.open()
        assert bp.versions() == [1, 2]
        assert bp.latest() == 2 and bp.version == 2
        assert bp.tags() == {"stable": 1}
        assert backend_url.open(version="stable").version == 1
        assert backend_url.open(version="latest").version == 2
        assert backend_url.open(version=1).version == 1

    def test_arrays_round_trip(self, backend_url: Reference) -> None:
        for version, tasks in backend_url.tasks.items():
            bp = backend_url.open(version=version)
            assert bp.task_names == ["ar", "lta"]
            for name, data in tasks.items():
                t = bp.task(name)
                assert (t.count, t.dim) == data.prototypes.shape
                np.testing.assert_array_equal(t.prototypes, data.prototypes)
                np.testing.assert_array_equal(t.keys, data.keys)
                np.testing.assert_array_equal(t.support, data.support)
                assert (
                    t.prototypes.dtype == np.float32
                    and t.keys.dtype == np.int32
                    and t.support.dtype == np.int64
                )
                v, n = data.keys[0]
                assert t.key_names([0]) == [(VERBS[v], NOUNS[n])]

    def test_search_matches_brute_force(self, backend_url: Reference) -> None:
        data = backend_url.tasks[2]["ar"]
        queries = np.random.default_rng(7).normal(size=(9, data.prototypes.shape[1]))
        scores, ids = backend_url.open().task("ar").search(queries, k=5)
        ref_scores, ref_ids = brute_force(data.prototypes, queries, 5)
        np.testing.assert_array_equal(ids, ref_ids)
        np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
        assert scores.dtype == np.float32 and ids.dtype == np.int64

    def test_manifest_contents(self, backend_url: Reference) -> None:
        bp = backend_url.open()
        m1, m2 = bp.manifest_of(1), bp.manifest
        assert (m1.parent, m2.parent) == (None, 1)
        assert (m1.message, m2.message) == ("first", "replace ar")
        assert m1.verbs == VERBS and m1.nouns == NOUNS
        assert m1.provenance.dataset_fingerprint == "fp-1" and m1.provenance.backpack_version
        assert m1.created_at.endswith("Z") and m1.created_at <= m2.created_at
        # v2 references v1's lta data and rewrote only ar
        assert m2.tasks["lta"].path == m1.tasks["lta"].path and m2.tasks["lta"].written_in == 1
        assert m2.tasks["ar"].path != m1.tasks["ar"].path and m2.tasks["ar"].written_in == 2
        for entry in m2.tasks.values():
            assert entry.metric == "cosine" and entry.index.type == "flat"
            assert set(entry.arrays) == {"prototypes", "keys", "support", "index"}
        assert type(m2).from_dict(m2.to_dict()) == m2

    def test_verify_clean(self, backend_url: Reference) -> None:
        assert backend_url.open().verify() == []

    def test_diff(self, backend_url: Reference) -> None:
        bp = backend_url.open()
        d = diff(bp.at(1), bp.at(2))
        assert d.added == [] and d.removed == [] and d.unchanged == ["lta"]
        (ar,) = d.changed
        assert ar.name == "ar" and not ar.same_data
        a, b = backend_url.tasks[1]["ar"], backend_url.tasks[2]["ar"]
        common = {tuple(k) for k in a.keys} & {tuple(k) for k in b.keys}
        assert ar.common_keys == len(common)

    def test_unknown_names(self, backend_url: Reference) -> None:
        bp = backend_url.open()
        with pytest.raises(NotFoundError, match=r"Unknown task 'oscc'.*\['ar', 'lta'\]"):
            bp.task("oscc")
        with pytest.raises(NotFoundError, match="Unknown version 9"):
            backend_url.open(version=9)
        with pytest.raises(NotFoundError, match=r"Unknown tag 'nope'.*\['stable'\]"):
            backend_url.open(version="nope")

    def test_read_only_refuses_writes(self, backend_url: Reference) -> None:
        bp = backend_url.open()
        with pytest.raises(ReadOnlyError):
            bp.new_version(message="x")
        with pytest.raises(ReadOnlyError):
            bp.tag("other", 2)
        with pytest.raises(ReadOnlyError):
            bp.delete_tag("stable")
        assert bp.tags() == {"stable": 1} and bp.versions() == [1, 2]

    def test_export_round_trip(self, backend_url: Reference, tmp_path: Any) -> None:
        out = backend_url.open().export(tmp_path / "again.zip", versions=["stable"])
        again = Backpack.open(out)
        assert again.versions() == [1] and again.tags() == {"stable": 1}
        np.testing.assert_array_equal(again.task("lta").prototypes, backend_url.tasks[1]["lta"].prototypes)

    def test_backend_listing(self, backend_url: Reference) -> None:
        backend = backend_url.open().backend
        assert backend.list("versions/") == ["versions/00000001.json", "versions/00000002.json"]
        assert backend.exists("backpack.json") and not backend.exists("nope.json")
        with pytest.raises(NotFoundError):
            backend.read("nope.json")
        assert backend.size("backpack.json") > 0


class TestWriteConformance:
    def test_backend_primitives(self, writable_url: tuple[str, Any]) -> None:
        from backpack.store import open_backend

        url, options = writable_url
        b = open_backend(url, "a", options)
        b.write("a/x.json", b"1")
        b.write("a/x.json", b"22")  # replace
        assert b.read("a/x.json") == b"22"
        b.create_exclusive("a/y.json", b"3")
        with pytest.raises(ConflictError):
            b.create_exclusive("a/y.json", b"4")
        assert b.read("a/y.json") == b"3"
        assert b.list("a/") == ["a/x.json", "a/y.json"] and b.list("a/x") == ["a/x.json"]
        b.delete("a/x.json")
        b.delete("a/x.json")  # missing: not an error
        assert b.list("a/") == ["a/y.json"] and not b.exists("a/x.json")
        ro = open_backend(url, "r", options)
        with pytest.raises(ReadOnlyError):
            ro.write("a/z.json", b"")

    def test_create_twice_conflicts(self, writable_url: tuple[str, Any]) -> None:
        url, options = writable_url
        Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=options)
        with pytest.raises(ConflictError, match="already exists"):
            Backpack.create(url, verbs=["x"], nouns=["y"], storage_options=options)
        assert Backpack.open(url, storage_options=options).verbs == VERBS

    def test_grow_replace_remove(self, writable_url: tuple[str, Any]) -> None:
        url, options = writable_url
        bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=options)
        assert bp.versions() == [] and bp.version is None and bp.task_names == []
        a, b, c = make_task(10), make_task(11), make_task(12, count=5)
        with bp.new_version(message="one") as v:
            add(v, "ar", a)
        with bp.new_version(message="grow") as v:
            add(v, "oscc", b)
        assert v.version == 2 and bp.version == 2 and bp.task_names == ["ar", "oscc"]
        with bp.new_version(message="shrink", parent=1) as v:
            v.remove_task("ar")
            add(v, "pnr", c)
        m3 = bp.manifest
        assert m3.parent == 1 and list(m3.tasks) == ["pnr"]
        reader = Backpack.open(url, storage_options=options)
        np.testing.assert_array_equal(reader.at(2).task("ar").prototypes, a.prototypes)
        assert reader.verify() == []

    def test_tags_lifecycle(self, writable_url: tuple[str, Any]) -> None:
        url, options = writable_url
        bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=options)
        for seed in (1, 2):
            with bp.new_version() as v:
                add(v, "ar", make_task(seed))
        assert bp.tag("prod", 1) == 1
        assert bp.tag("prod", 1) == 1  # same target: idempotent
        with pytest.raises(ConflictError, match="force=True"):
            bp.tag("prod", 2)
        assert bp.tags() == {"prod": 1}
        assert bp.tag("prod", "latest", force=True) == 2
        bp.delete_tag("prod")
        assert bp.tags() == {}
        with pytest.raises(NotFoundError, match="Unknown tag 'prod'"):
            bp.delete_tag("prod")
        with pytest.raises(NotFoundError, match="Unknown version 7"):
            bp.tag("x", 7)

    def test_failed_transaction_publishes_nothing(self, writable_url: tuple[str, Any]) -> None:
        url, options = writable_url
        bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=options)
        with bp.new_version() as v:
            add(v, "ar", make_task(1))
        with pytest.raises(RuntimeError):
            with bp.new_version() as v:
                add(v, "lta", make_task(2))
                raise RuntimeError("boom")
        assert bp.versions() == [1] and bp.task_names == ["ar"]
        # the aborted data was cleaned up: only version 1's group remains
        groups = {k.split("/")[1] for k in bp.backend.list("data/")}
        assert groups == {bp.manifest.tasks["ar"].path.split("/")[1]}

    def test_replaced_or_removed_fresh_task_leaves_no_data(self, writable_url: tuple[str, Any]) -> None:
        url, options = writable_url
        bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=options)
        with bp.new_version() as v:
            add(v, "ar", make_task(1))
            add(v, "ar", make_task(2))  # replaces the first copy
            add(v, "lta", make_task(3))
            v.remove_task("lta")
        groups = {k.split("/")[1] for k in bp.backend.list("data/")}
        assert groups == {bp.manifest.tasks["ar"].path.split("/")[1]}
        np.testing.assert_array_equal(bp.task("ar").prototypes, make_task(2).prototypes)


class TestCommitFailures:
    """A failed commit removes its data unless the manifest landed anyway (a lost reply)."""

    def _store(self, tmp_path: Any) -> Backpack:
        bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
        with bp.new_version() as v:
            add(v, "ar", make_task(1))
        return bp

    def test_failed_create_removes_data(self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        bp = self._store(tmp_path)
        before = set(bp.backend.list(""))

        def disk_full(key: str, data: bytes) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(bp.backend, "create_exclusive", disk_full)
        with pytest.raises(OSError, match="No space"):
            with bp.new_version() as v:
                add(v, "lta", make_task(2))
        assert set(bp.backend.list("")) == before
        assert Backpack.open(bp.url).verify() == []

    def test_lost_reply_counts_as_published(self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        bp = self._store(tmp_path)
        real = bp.backend.create_exclusive

        def lost_reply(key: str, data: bytes) -> None:
            real(key, data)
            raise OSError(104, "Connection reset by peer")

        monkeypatch.setattr(bp.backend, "create_exclusive", lost_reply)
        with bp.new_version(message="landed") as v:
            add(v, "lta", make_task(2))
        assert v.version == 2
        reader = Backpack.open(bp.url)
        assert reader.versions() == [1, 2] and reader.verify() == [] and reader.manifest.message == "landed"
