"""Concurrency under load: 8 writer and 8 reader processes on one local store.

Writers publish seeded versions as fast as they can; readers open the latest or a random listed
version and check every array against its seed (and search). Afterwards: every publish a writer
saw succeed is listed exactly once with its own content (zero lost, zero mixed up), and no reader
ever saw an incomplete version. Prints versions/s and reader latency.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from backpack.store import Backpack
from tests.reliability.rel_common import ForkServer, content_problems, new_store


def _load(
    server: ForkServer, tmp_path: Path, seconds: float, writers: int = 8, readers: int = 8
) -> dict[str, float]:
    store = tmp_path / "store"
    new_store(store).close()
    outdir = tmp_path / "out"
    outdir.mkdir()
    t0 = time.monotonic()
    status, _ = server.run("load", store, writers, readers, seconds, outdir)
    elapsed = time.monotonic() - t0
    assert status == 0
    outs = [(outdir / f"w{i}").read_text() for i in range(writers)]
    outs += [(outdir / f"r{i}").read_text() for i in range(readers)]
    published: dict[int, int] = {}
    for out in outs[:writers]:
        for line in out.splitlines():
            if line.startswith("DONE"):
                _, seed, version = line.split()
                assert int(version) not in published, f"version {version} reported by two writers"
                published[int(version)] = int(seed)
    bp = Backpack.open(store)
    assert bp.versions() == sorted([1, *published]), "lost or phantom versions"
    for version, seed in published.items():
        assert bp.manifest_of(version).provenance.extra["seed"] == seed
    assert content_problems(bp) == []
    summaries = [json.loads(out.splitlines()[-1]) for out in outs[writers:]]
    bad = [b for s in summaries for b in s["bad"]]
    assert sum(s["n_bad"] for s in summaries) == 0, bad
    latencies = np.array([x for s in summaries for x in s["latencies"]])
    reads = int(sum(s["reads"] for s in summaries))
    assert reads >= readers and len(published) >= writers
    stats = {
        "versions": len(published),
        "versions_per_s": len(published) / seconds,
        "reads": reads,
        "read_p50_ms": 1000 * float(np.median(latencies)),
        "read_p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "seconds": elapsed,
        "lost": 0,
    }
    print("\nload:", json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in stats.items()}))
    return stats


def test_8_writers_8_readers_short(server: ForkServer, tmp_path: Path) -> None:
    _load(server, tmp_path, float(os.environ.get("BACKPACK_LOAD_SECONDS", "5")))


@pytest.mark.slow
def test_8_writers_8_readers_60s(server: ForkServer, tmp_path: Path) -> None:
    _load(server, tmp_path, 60.0)
