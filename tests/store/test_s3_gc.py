"""``backpack gc`` on the local S3 server: a SIGKILLed writer's data is listed, then removed;
published data and a writer still in progress are never touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.store import Backpack
from backpack.store.gc import collect_garbage
from tests.store.store_data import NOUNS, VERBS, add, make_task

pytestmark = pytest.mark.s3

# Opens the store, writes a task's arrays, then dies by SIGKILL before the manifest's PUT.
_KILLED_WRITER = r"""
import json, os, signal, sys
from backpack.store import Backpack
from tests.store.store_data import add, make_task
bp = Backpack.open(sys.argv[1], mode="a", storage_options=json.loads(sys.argv[2]))
v = bp.new_version(message="never published")
add(v, "oscc", make_task(3))
print(v._tasks["oscc"].path, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

GRACE_S = 2.0  # S3's LastModified has one-second resolution: the dead writer is made >= 3.5 s old


def _data_keys(bp: Backpack) -> set[str]:
    return set(bp.backend.list("data/"))


def test_gc_on_s3_removes_a_killed_writers_data_only(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    bp = Backpack.create(s3_url, verbs=VERBS, nouns=NOUNS, storage_options=s3_storage_options)
    for number, (name, seed) in enumerate((("ar", 1), ("lta", 2)), start=1):
        with bp.new_version(message=f"v{number}") as v:
            add(v, name, make_task(seed))
    published = _data_keys(bp)
    before = {(n, t): bp.at(n).task(t).prototypes.copy() for n, t in ((1, "ar"), (2, "lta"))}

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.getcwd())
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, s3_url, json.dumps(s3_storage_options)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    dead = proc.stdout.split()[-1]
    dead_keys = set(bp.backend.list(dead))
    assert dead_keys and not dead_keys & published  # its chunks are on S3, referenced by nothing
    time.sleep(3.5)

    young = Backpack.open(s3_url, mode="a", storage_options=s3_storage_options).new_version()
    add(young, "pnr", make_task(4))  # a writer in progress: data written, manifest not yet
    young_key = young._tasks["pnr"].path
    young_before = set(bp.backend.list(young_key))

    orphans = {o.key: o for o in bp.orphans()}
    assert set(orphans) == {dead, young_key}
    assert orphans[dead].kind == "data" and orphans[dead].bytes == sum(bp.backend.size(k) for k in dead_keys)
    assert orphans[dead].age_s is not None and orphans[dead].age_s >= GRACE_S > orphans[young_key].age_s
    assert bp.verify() == []  # orphans are not damage

    dry = collect_garbage(bp, grace_s=GRACE_S)
    assert [o.key for o in dry] == [dead]
    assert set(bp.backend.list(dead)) == dead_keys  # a dry run deletes nothing

    out = CliRunner().invoke(cli, ["gc", s3_url, "--grace", str(GRACE_S), "--json"])
    assert out.exit_code == 0, out.output
    assert [o["key"] for o in json.loads(out.stdout)["would_remove"]] == [dead]
    assert set(bp.backend.list(dead)) == dead_keys

    removed = collect_garbage(bp, grace_s=GRACE_S, dry_run=False)
    assert [o.key for o in removed] == [dead]
    assert bp.backend.list(dead) == []
    young_keys = set(bp.backend.list(young_key))
    assert _data_keys(bp) == published | young_keys  # nothing else went
    print(
        f"\ngc on S3: removed {len(dead_keys)} keys of a killed writer ({removed[0].bytes} bytes); "
        f"referenced data lost: {len(published - _data_keys(bp))}, "
        f"in-progress writer lost: {len(young_before - young_keys)}"
    )
    assert [o.key for o in bp.orphans()] == [young_key]

    assert young.commit() == 3  # the writer in progress still publishes, its data intact
    after = Backpack.open(s3_url, storage_options=s3_storage_options)
    assert after.verify() == [] and after.orphans() == []
    assert after.task_names == ["ar", "lta", "pnr"]
    np.testing.assert_array_equal(after.task("pnr").prototypes, make_task(4).prototypes)
    for (n, t), protos in before.items():
        np.testing.assert_array_equal(after.at(n).task(t).prototypes, protos)


def test_gc_on_s3_with_no_orphans_removes_nothing(s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    bp = Backpack.create(s3_url, verbs=VERBS, nouns=NOUNS, storage_options=s3_storage_options)
    with bp.new_version() as v:
        add(v, "ar", make_task(1))
    keys = bp.backend.list("")
    assert collect_garbage(bp, grace_s=0, dry_run=False) == []
    assert bp.backend.list("") == keys
