"""Lazy, cached reads from object storage, counted at the (local, moto) S3 server.

Opening a store reads only JSON (root, version list, manifest); a task's arrays are fetched on its
first use and kept in the local cache under their sha256; a second open of the store downloads
no array at all. Every request the store makes is logged by the counting server (conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.sharing._sharing_stores import TASKS, make_four_task_store, make_task_arrays

pytestmark = pytest.mark.s3


def _exact_top(protos: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    p = protos / np.linalg.norm(protos, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    return np.argsort(-(qn @ p.T), axis=1, kind="stable")[:, :k]


def _only_json_and_listings(requests: list[tuple[str, str]], bucket: str) -> bool:
    """Every request reads a JSON key (root, manifest, tag) or lists the bucket: no array data."""
    return all(p.endswith(".json") or p.rstrip("/") == f"/{bucket}" for _, p in requests)


@pytest.fixture
def four_task_store(counting_s3, cache_dir: Path):  # type: ignore[no-untyped-def]
    url = counting_s3.new_url()
    protos = make_four_task_store(url, counting_s3.storage_options)
    counting_s3.log.clear()
    return url, protos


def test_open_reads_only_json_and_arrays_come_on_first_use(
    counting_s3, four_task_store, cache_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    from backpack.store import Backpack

    url, protos = four_task_store
    bp = Backpack.open(url, storage_options=counting_s3.storage_options)
    assert bp.task_names == list(TASKS)
    views = {t: bp.task(t) for t in TASKS}
    assert views["ar"].count == 300 and views["ar"].dim == 64  # from the manifest
    opened = counting_s3.log.snapshot()
    assert opened, "the server saw no request: the counter is broken"
    assert counting_s3.log.data_requests() == []  # only backpack.json, the version list, the manifest
    assert _only_json_and_listings(opened, counting_s3.bucket)

    q = np.random.default_rng(1).standard_normal((5, 64)).astype(np.float32)
    _, ids = views["lta"].search(q, 4)
    np.testing.assert_array_equal(ids, _exact_top(protos["lta"], q, 4))
    fetched = {p for _, p in counting_s3.log.data_requests()}
    assert fetched and all("/data/lta-" in p for p in fetched)  # only the task that was used
    assert len(list(cache_dir.rglob("*.npy"))) == 1  # its index (the only array search needs)


def test_second_open_downloads_nothing(counting_s3, four_task_store, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from backpack.store import Backpack
    from backpack.store._cache import default_cache

    url, protos = four_task_store
    q = np.random.default_rng(2).standard_normal((3, 64)).astype(np.float32)
    first = {}
    with Backpack.open(url, storage_options=counting_s3.storage_options) as bp:
        for t in TASKS:
            first[t] = (bp.task(t).search(q, 4)[1], bp.task(t).prototypes.copy(), bp.task(t).support.copy())
    cold = len(counting_s3.log.data_requests())
    assert cold >= 2 * len(TASKS)  # zarr metadata + chunks of index, prototypes, support per task
    assert len(list(cache_dir.rglob("*.npy"))) == 3 * len(TASKS)

    counting_s3.log.clear()
    hits = default_cache().stats.hits  # type: ignore[union-attr]
    with Backpack.open(url, storage_options=counting_s3.storage_options) as bp:
        for t in TASKS:
            ids, pr, sup = bp.task(t).search(q, 4)[1], bp.task(t).prototypes, bp.task(t).support
            np.testing.assert_array_equal(ids, first[t][0])
            np.testing.assert_array_equal(pr, first[t][1])
            np.testing.assert_array_equal(sup, first[t][2])
    assert counting_s3.log.data_requests() == []
    assert _only_json_and_listings(counting_s3.log.snapshot(), counting_s3.bucket)
    assert default_cache().stats.hits == hits + 3 * len(TASKS)  # type: ignore[union-attr]


def test_cache_is_keyed_by_content_not_by_name(counting_s3, four_task_store, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """A new version holding the same bytes under another task name costs no download."""
    from backpack.store import Backpack

    url, protos = four_task_store
    with Backpack.open(url, storage_options=counting_s3.storage_options) as bp:
        bp.task("ar").search(protos["ar"][:2], 1)
    with Backpack.open(url, mode="a", storage_options=counting_s3.storage_options) as bp:
        with bp.new_version(message="same bytes, new name") as v:
            v.add_task("ar_copy", *make_task_arrays(0), index="flat")
    counting_s3.log.clear()
    with Backpack.open(url, storage_options=counting_s3.storage_options) as bp:
        assert bp.version == 2
        _, ids = bp.task("ar_copy").search(protos["ar"][:2], 1)
    np.testing.assert_array_equal(ids[:, 0], [0, 1])
    assert counting_s3.log.data_requests() == []


def test_without_the_cache_every_open_downloads_again(
    counting_s3, four_task_store, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from backpack.store import Backpack

    monkeypatch.setenv("BACKPACK_CACHE_DIR", "off")
    url, _ = four_task_store
    counts = []
    for _ in range(2):
        counting_s3.log.clear()
        with Backpack.open(url, storage_options=counting_s3.storage_options) as bp:
            bp.task("pnr").prototypes  # noqa: B018 -- the read is what is measured
        counts.append(len(counting_s3.log.data_requests()))
    assert counts[0] > 0 and counts[1] == counts[0]


def test_a_damaged_cache_entry_is_fetched_again(counting_s3, four_task_store, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from backpack.store import Backpack

    url, protos = four_task_store
    with Backpack.open(url, storage_options=counting_s3.storage_options) as bp:
        bp.task("oscc").prototypes  # noqa: B018
    (entry,) = list(cache_dir.rglob("*.npy"))
    raw = bytearray(entry.read_bytes())
    raw[-3] ^= 0x10
    entry.write_bytes(bytes(raw))
    counting_s3.log.clear()
    with Backpack.open(url, storage_options=counting_s3.storage_options) as bp:
        np.testing.assert_array_equal(bp.task("oscc").prototypes, protos["oscc"])
    assert counting_s3.log.data_requests()  # refetched from the server, not served damaged
