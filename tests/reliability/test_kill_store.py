"""SIGKILL of a process publishing a version, moving tags or importing a bundle, at many points.

After every kill: each earlier version still verifies and holds exactly what its writer meant
(arrays compared with their seed), no partial version is listed, tags name existing versions, and
the next publish succeeds. Kill points are either exact (before the n-th file operation of a
publish: every zarr chunk and metadata file, the manifest temp file and its link) or random in
time (a child publishing in a loop, killed after a seeded random delay). Children are forked from
a warm fork server (rel_worker.py), so kills land in the work, not in Python's start-up.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

from backpack.store import Backpack, import_bundle
from tests.reliability.rel_common import ForkServer, content_problems, new_store, publish

FULL = os.environ.get("BACKPACK_FAULTS_FULL") == "1"  # every kill point, more random kills
KILLED = -signal.SIGKILL


def test_kill_before_every_write_operation(server: ForkServer, tmp_path: Path) -> None:
    """SIGKILL just before each file operation of a publish (data chunks, metadata, manifest)."""
    store = tmp_path / "store"
    new_store(store).close()
    status, lines = server.run("count", store, 2)
    assert status == 0
    # the last 2 ops rewrite head.json (temp file + rename), after the commit: a kill there
    # leaves the version published, which is right; the points below end at the commit
    total = int(lines[-1].split()[1]) - 2
    assert total >= 20  # 2 tasks x 4 arrays x (metadata + chunk) + groups + manifest temp + link
    points = list(range(1, total + 1))
    if not FULL:  # a seeded sample in the default suite, always with the manifest temp file + link
        points = sorted(set(random.Random(6).sample(points[:-2], 16)) | set(points[-2:]))
    for n in points:
        status, _ = server.run("publish", store, 100 + n, n)
        assert status == KILLED, f"kill point {n}: the child was not killed"
        if n % 5 == 0 or n >= total - 1:
            assert Backpack.open(store).versions() == [1, 2]
    bp = Backpack.open(store)
    assert bp.versions() == [1, 2]  # no killed publish is listed
    assert content_problems(bp) == []  # the earlier ones are intact
    assert publish(Backpack.open(store, mode="a"), 7) == 3  # and the next publish works
    assert content_problems(Backpack.open(store)) == []
    print(f"\nkill points: {len(points)} of the {total} write ops of a publish; versions lost: 0")


def _random_kills(server: ForkServer, tmp_path: Path, n_kills: int) -> dict[str, int]:
    store = tmp_path / "store"
    new_store(store).close()
    rng = random.Random(20)
    landed = {"data": 0, "between publishes or commit": 0}
    seed = 10
    for round_ in range(n_kills):
        before = Backpack.open(store).versions()
        log = tmp_path / f"log{round_}"
        log.touch()  # a kill may come before the child opens it
        status, _ = server.run("loop", "publish", round(rng.uniform(0.02, 0.3), 3), log, store, seed, 1)
        assert status == KILLED
        events = [ln.split() for ln in log.read_text().splitlines()]
        reported = [int(e[2]) for e in events if e[0] == "DONE"]
        in_data = events and events[-1][0] == "BEGIN"
        landed["data" if in_data else "between publishes or commit"] += 1
        seed += len(events) + 1
        bp = Backpack.open(store)
        versions = bp.versions()
        assert versions[: len(before)] == before, "an earlier version disappeared"
        assert set(reported) <= set(versions), "a publish the writer saw succeed is missing"
        assert len(versions) - len(before) - len(reported) in (0, 1)  # killed after the link: listed
        assert content_problems(bp, versions[len(before) :]) == []  # nothing partial is listed
        if round_ % 4 == 3:  # the next publish succeeds (here, and in the next child)
            assert publish(Backpack.open(store, mode="a"), seed) == versions[-1] + 1
            seed += 1
    assert content_problems(Backpack.open(store)) == []  # and every version is still intact
    return landed


def test_kill_publish_loop_at_random_times(server: ForkServer, tmp_path: Path) -> None:
    """20 SIGKILLs at seeded random times of a child publishing 1.5 MB versions in a loop."""
    n = 200 if FULL else 20
    landed = _random_kills(server, tmp_path, n)
    assert landed["data"] >= n // 4  # most kills interrupt the array writes
    print(f"\nrandom kills: {n}, landed {landed}; versions lost: 0")


@pytest.mark.slow
def test_kill_publish_loop_many(server: ForkServer, tmp_path: Path) -> None:
    landed = _random_kills(server, tmp_path, 200)
    print(f"\nrandom kills: 200, landed {landed}; versions lost: 0")


def test_kill_tagging_at_random_times(server: ForkServer, tmp_path: Path) -> None:
    """Tags created and moved in a loop, killed 12 times: every tag parses and names a version."""
    store = tmp_path / "store"
    bp = new_store(store)
    for seed in (2, 3):
        publish(bp, seed)
    rng = random.Random(3)
    moves = 0
    for round_ in range(12):
        log = tmp_path / f"log{round_}"
        log.touch()  # a kill may come before the child opens it
        status, _ = server.run("loop", "tag", round(rng.uniform(0.0, 0.2), 3), log, store)
        assert status == KILLED
        moves += log.read_text().split().count("BEGIN")
        ro = Backpack.open(store)
        assert ro.verify() == []  # checks every tag file too
        assert set(ro.tags().values()) <= {1, 2, 3}
    assert moves >= 12
    rw = Backpack.open(store, mode="a")
    assert rw.tag("after-kill", 2) == 2
    assert publish(rw, 9) == 4


def test_kill_import_at_random_times(server: ForkServer, tmp_path: Path) -> None:
    """Imports killed 10 times: a destination is absent or a complete store; a retry succeeds."""
    src = tmp_path / "src"
    bp = new_store(src)
    publish(bp, 2, big=True)
    bp.tag("stable", 1)
    bundle = bp.export(tmp_path / "b.zip")
    rng = random.Random(4)
    interrupted = 0
    for round_ in range(10):
        work = tmp_path / f"imports{round_}"
        work.mkdir()
        log = tmp_path / f"log{round_}"
        log.touch()  # a kill may come before the child opens it
        status, _ = server.run("loop", "import", round(rng.uniform(0.02, 0.4), 3), log, bundle, work)
        assert status == KILLED
        events = log.read_text().split()
        for dest in sorted(work.iterdir()):
            if dest.name.startswith("."):
                continue  # a killed import's private temp folder, never a store
            imported = Backpack.open(dest)
            assert imported.versions() == [1, 2] and imported.tags() == {"stable": 1}
            assert content_problems(imported) == []
        last = work / f"d{events.count('BEGIN') - 1}"
        if not last.exists():  # the kill interrupted this import: retrying it works
            interrupted += 1
            assert import_bundle(bundle, last).versions() == [1, 2]
    assert interrupted >= 5
    print(f"\nimport kills: 10, {interrupted} inside an import; stores damaged: 0")
