"""Concurrent publishers and crashed writers never lose or damage versions (local disk)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backpack.store import Backpack
from tests.store.store_data import NOUNS, VERBS, add, make_task

WRITER = """
import sys, time, json, os
import numpy as np
from backpack.store import Backpack
url, proc, start = sys.argv[1], int(sys.argv[2]), sys.argv[3]
while not os.path.exists(start):
    time.sleep(0.005)
bp = Backpack.open(url, mode='a')
rng = np.random.default_rng(proc)
out = []
for j in range(5):
    protos = rng.normal(size=(6, 4)).astype(np.float32)
    build = lambda v: v.add_task(f'w{proc}', protos, [[proc, k] for k in range(6)], [j + 1] * 6)
    out.append(bp.update(build, message=f'p{proc}-{j}', retries=1000))
print(json.dumps(out))
"""

N_PROCS, N_VERSIONS = 8, 5


def test_eight_writers_forty_versions(tmp_path: Path) -> None:
    url = str(tmp_path / "s")
    Backpack.create(url, verbs=VERBS, nouns=NOUNS)
    start = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(p), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(N_PROCS)
    ]
    start.touch()  # all writers race from here
    published: dict[int, list[int]] = {}
    for p, proc in enumerate(procs):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        published[p] = json.loads(out)
    numbers = sorted(n for ns in published.values() for n in ns)
    assert numbers == list(range(1, N_PROCS * N_VERSIONS + 1))  # distinct, none lost
    bp = Backpack.open(url)
    assert bp.versions() == numbers
    assert bp.verify() == []
    for p, ns in published.items():
        for j, n in enumerate(ns):
            m = bp.manifest_of(n)
            assert m.message == f"p{p}-{j}"
            support = bp.at(n).task(f"w{p}").support
            assert support.tolist() == [j + 1] * 6
    # each writer's own versions are in increasing order
    assert all(ns == sorted(ns) for ns in published.values())


CRASHER = """
import os, sys, time
import numpy as np
import backpack.store.transaction as tx
from backpack.store import Backpack
url, point = sys.argv[1], sys.argv[2]
if point == 'data':
    original = tx.write_group
    def half_written(backend, prefix, arrays, attributes):
        original(backend, prefix, {'prototypes': arrays['prototypes']}, attributes)
        print('MID', flush=True)
        time.sleep(120)
    tx.write_group = half_written
else:
    real_link = os.link
    def stuck_link(src, dst):
        if '/versions/' not in str(dst):
            return real_link(src, dst)
        print('MID', flush=True)
        time.sleep(120)
    os.link = stuck_link  # the temp manifest is written; the exclusive link never happens
bp = Backpack.open(url, mode='a')
with bp.new_version(message='doomed') as v:
    v.add_task('lta', np.ones((3, 4), np.float32), [[0, 0], [0, 1], [0, 2]], [1, 1, 1])
"""


@pytest.mark.parametrize("point", ["data", "commit"])
def test_sigkill_mid_write(tmp_path: Path, point: str) -> None:
    url = str(tmp_path / "s")
    bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS)
    with bp.new_version(message="kept") as v:
        add(v, "ar", make_task(1))
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, url, point], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "MID", proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    if point == "commit":  # a half-done commit leaves a temp manifest behind, which is never listed
        assert any(".tmp-" in p.name for p in (tmp_path / "s" / "versions").iterdir())
    after = Backpack.open(url)
    assert after.versions() == [1] and after.verify() == []
    np.testing.assert_array_equal(after.task("ar").prototypes, make_task(1).prototypes)
    writer = Backpack.open(url, mode="a")
    with writer.new_version(message="next") as v:
        add(v, "lta", make_task(2))
    assert v.version == 2
    final = Backpack.open(url)
    assert final.versions() == [1, 2] and final.verify() == [] and final.task_names == ["ar", "lta"]
