"""Concurrent publishers on the local S3 server: 8 processes x 5 versions -> 40 verifiable versions.

The only coordination between writers is the conditional PUT (If-None-Match: *) of each
version's manifest; a loser of the race for a number retries with the next one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backpack.store import Backpack
from tests.store.store_data import NOUNS, VERBS

pytestmark = pytest.mark.s3


# Each writer waits for a start file so that all of them publish at the same time.
_WRITER = r"""
import json, os, sys, time
import numpy as np
from backpack.store import Backpack
url, options, go = sys.argv[1], json.loads(sys.argv[2]), sys.argv[5]
writer, n = int(sys.argv[3]), int(sys.argv[4])
bp = Backpack.open(url, mode="a", storage_options=options)
deadline = time.time() + 120
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.01)
for i in range(n):
    rng = np.random.default_rng(1000 * writer + i)
    protos = rng.normal(size=(20, 8)).astype(np.float32)
    flat = rng.choice(len(bp.verbs) * len(bp.nouns), size=20, replace=False)
    keys = np.stack([flat // len(bp.nouns), flat % len(bp.nouns)], axis=1)
    build = lambda v: v.add_task(f"w{writer}", protos, keys, np.full(20, 1 + i))
    print(bp.update(build, message=f"w{writer}-{i}", retries=1000), flush=True)
"""


def _expected(writer: int, i: int) -> np.ndarray:
    return np.random.default_rng(1000 * writer + i).normal(size=(20, 8)).astype(np.float32)


@pytest.mark.parametrize(
    ("writers", "each"),
    [(3, 2), pytest.param(8, 5, marks=pytest.mark.slow, id="8x5")],  # 8 x 5 takes about 55 s here
)
def test_concurrent_writers(
    writers: int, each: int, s3_url: str, s3_storage_options: dict[str, Any], tmp_path: Path
) -> None:
    Backpack.create(s3_url, verbs=VERBS, nouns=NOUNS, storage_options=s3_storage_options).close()
    go = tmp_path / "go"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRITER,
                s3_url,
                json.dumps(s3_storage_options),
                str(w),
                str(each),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(writers)
    ]
    time.sleep(0.5)
    go.touch()
    published: dict[int, list[int]] = {}
    for w, p in enumerate(procs):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"writer {w} failed:\n{err[-3000:]}"
        published[w] = [int(line) for line in out.split()]
    numbers = sorted(n for ns in published.values() for n in ns)
    assert numbers == list(range(1, writers * each + 1))  # distinct, none lost, no gaps

    bp = Backpack.open(s3_url, storage_options=s3_storage_options)
    assert bp.versions() == numbers
    assert bp.verify() == []
    for w, ns in published.items():
        assert ns == sorted(ns)  # one writer's versions come in its own order
        for i, number in enumerate(ns):
            view = bp.at(number).task(f"w{w}")
            np.testing.assert_array_equal(view.prototypes, _expected(w, i))
            assert bp.manifest_of(number).message == f"w{w}-{i}"
            assert int(view.support[0]) == 1 + i
