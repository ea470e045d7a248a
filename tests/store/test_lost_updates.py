"""No lost updates: eight real processes add a task each on top of ``latest`` at the same time."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backpack.errors import StaleParentError
from backpack.store import Backpack
from tests.store.store_data import NOUNS, VERBS, add, make_task

ADDER = """
import json, os, sys, time
from backpack.errors import StaleParentError
from backpack.store import Backpack
from tests.store.store_data import add, make_task
url, proc, start, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
bp = Backpack.open(url, mode='a')
while not os.path.exists(start):
    time.sleep(0.002)
build = lambda v: add(v, f't{proc}', make_task(100 + proc, count=6, dim=4))
try:
    if mode == 'retry':
        print(json.dumps({'version': bp.update(build, message=f'p{proc}', retries=200)}))
    else:
        with bp.new_version(message=f'p{proc}') as v:
            build(v)
        print(json.dumps({'version': v.version}))
except StaleParentError as exc:
    print(json.dumps({'conflict': str(exc)}))
"""


def _race(tmp_path: Path, mode: str, n: int = 8) -> tuple[str, list[dict]]:
    url = str(tmp_path / "s")
    bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS)
    with bp.new_version(message="base") as v:
        add(v, "base", make_task(1))
    start = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ADDER, url, str(p), str(start), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(n)
    ]
    start.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return url, results


def test_stale_parent_conflicts_instead_of_losing_updates(tmp_path: Path) -> None:
    url, results = _race(tmp_path, "plain")
    won = [r["version"] for r in results if "version" in r]
    lost = [r["conflict"] for r in results if "conflict" in r]
    assert len(won) + len(lost) == 8 and won
    assert all("was published while this version was being built" in m for m in lost)
    bp = Backpack.open(url)
    assert bp.versions() == list(range(1, 2 + len(won)))
    for number in bp.versions()[1:]:  # every version keeps all of its parent's tasks
        m = bp.manifest_of(number)
        assert m.parent == number - 1
        assert set(bp.manifest_of(number - 1).tasks) < set(m.tasks)
    assert len(bp.task_names) == 1 + len(won)  # base + every published task, none dropped
    assert bp.verify() == []
    assert bp.orphans() == []  # the losers deleted their data
    dropped = 1 + len(won) - len(bp.task_names)
    print(f"\n8 writers on one parent: {len(won)} published, {len(lost)} conflicts; tasks lost: {dropped}")


def test_retry_on_conflict_keeps_all_eight_tasks(tmp_path: Path) -> None:
    url, results = _race(tmp_path, "retry")
    assert sorted(r["version"] for r in results) == list(range(2, 10))
    bp = Backpack.open(url)
    assert sorted(bp.task_names) == sorted(["base", *(f"t{p}" for p in range(8))])
    assert bp.verify() == []
    dropped = len({f"t{p}" for p in range(8)} - set(bp.task_names))
    print(f"\n8 writers with update(): {len(results)} published; tasks lost: {dropped}")


def test_writer_started_before_another_publish_conflicts(tmp_path: Path) -> None:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    slow = bp.new_version(message="slow")
    add(slow, "a", make_task(1))
    other = Backpack.open(tmp_path / "s", mode="a")
    with other.new_version(message="fast") as v:
        add(v, "b", make_task(2))
    with pytest.raises(StaleParentError, match=r"version 1 was published"):
        slow.commit()
    assert Backpack.open(tmp_path / "s").task_names == ["b"]
    left = [p for p in (tmp_path / "s" / "data").rglob("*") if p.is_file() and p.parts[-3:][0] != "b"]
    assert not [p for p in left if "/data/a-" in p.as_posix()]  # the loser's data is gone


def test_tags_vanishing_while_reading_are_not_damage(tmp_path: Path) -> None:
    bp = Backpack.create(tmp_path / "s", verbs=VERBS, nouns=NOUNS)
    with bp.new_version() as v:
        add(v, "a", make_task(1))
    stop = threading.Event()

    def churn() -> None:
        mover = Backpack.open(tmp_path / "s", mode="a")
        i = 0
        while not stop.is_set():
            name = f"t{i % 4}"
            mover.tag(name, 1, force=True)
            mover.delete_tag(name)
            i += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        reader = Backpack.open(tmp_path / "s")
        for _ in range(150):
            assert set(reader.tags().values()) <= {1}
            assert reader.verify() == []
        false_damage = 0  # each round asserted an empty verify
    finally:
        stop.set()
        thread.join()
    print(f"\ntag churn: 150 tags() + verify() rounds; false damage: {false_damage}")
