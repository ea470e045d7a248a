"""Subprocess side of the reliability tests (run as ``python rel_worker.py MODE ARGS``).

Every mode prints ``READY`` once its imports are done. Modes:

``serve``                             a fork server for kill tests (commands on stdin, below)
``query STORE``                       print search results of every task as JSON

The fork server imports numpy, zarr and faiss once, then forks one child per command, so a kill
lands inside the work and not inside Python's start-up (the parent never runs zarr or OpenMP
code, so forking it is safe). Commands, one per line, each answered ``EXIT <status>`` (negative:
killed by that signal):

``publish STORE SEED KILL_AT``        publish one version; SIGKILL before write op KILL_AT (0: never)
``count STORE SEED``                  publish one version; answered ``OPS n`` first
``load STORE W R SECONDS OUTDIR``     W writers and R readers for SECONDS (outputs in OUTDIR)
``loop KIND DELAY LOG ARGS...``       run KIND in a loop, logging BEGIN/DONE lines to LOG, and
                                      SIGKILL it after DELAY seconds. KIND: publish (STORE SEED0
                                      BIG), tag (STORE), import (BUNDLE DIR)
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from backpack.store import Backpack, import_bundle
from tests.reliability.rel_common import content_problems, publish
from tests.reliability.rel_faults import FaultyDisk


def say(*parts: object) -> None:
    print(*parts, flush=True)


def query_results(bp: Backpack) -> dict[str, list]:
    """Top-5 search of 16 seeded queries on every task of ``bp``'s version."""
    out = {}
    for name in sorted(bp.task_names):
        view = bp.task(name)
        q = np.random.default_rng(7).normal(size=(16, view.dim)).astype(np.float32)
        scores, ids = view.search(q, k=5)
        out[name] = [np.round(scores, 5).tolist(), ids.tolist()]
    return out


def load_writer(store: str, writer: int, seconds: float, out: Any) -> None:
    bp = Backpack.open(store, mode="a")
    end, seq = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        seed = 1000 * (writer + 1) + seq
        out.write(f"DONE {seed} {publish(bp, seed)}\n")
        out.flush()
        seq += 1


def load_reader(store: str, seconds: float, out: Any) -> None:
    """Open the latest (or a random listed) version, check every array against its seed, search."""
    rng = random.Random(0)
    end = time.monotonic() + seconds
    reads, bad, latencies, seen = 0, [], [], set()
    while time.monotonic() < end:
        t0 = time.perf_counter()
        versions = Backpack.open(store).versions()
        number = versions[-1] if rng.random() < 0.5 else rng.choice(versions)
        view = Backpack.open(store, version=number)
        problems = content_problems(view, [number])
        query_results(view)
        latencies.append(time.perf_counter() - t0)
        reads += 1
        seen.add(number)
        bad += [f"version {number}: {p}" for p in problems]
    out.write(
        json.dumps(
            {
                "reads": reads,
                "bad": bad[:10],
                "n_bad": len(bad),
                "latencies": latencies,
                "distinct": len(seen),
            }
        )
        + "\n"
    )


def _loop(kind: str, log: Any, args: list[str]) -> None:
    def mark(*parts: object) -> None:
        log.write((" ".join(map(str, parts)) + "\n").encode())  # unbuffered: survives SIGKILL

    if kind == "publish":
        bp = Backpack.open(args[0], mode="a")
        seed, big = int(args[1]), args[2] == "1"
        while True:
            mark("BEGIN", seed)
            mark("DONE", seed, publish(bp, seed, big=big))
            seed += 1
    elif kind == "tag":
        bp = Backpack.open(args[0], mode="a")
        versions = bp.versions()
        rng = random.Random(os.getpid())
        for i in range(10**9):
            mark("BEGIN", i)
            bp.tag(f"moving{i % 3}", rng.choice(versions), force=True)
            bp.tag(f"fixed{os.getpid()}-{i}", rng.choice(versions))
            mark("DONE", i)
    elif kind == "import":
        bundle, root = args[0], Path(args[1])
        for i in range(10**9):
            mark("BEGIN", i)
            import_bundle(bundle, root / f"d{i}").close()
            mark("DONE", i)


def _child(words: list[str]) -> None:
    """What a forked child runs; it leaves with os._exit (never back into the server loop)."""
    cmd = words[0]
    if cmd in ("publish", "count"):
        store, seed = words[1], int(words[2])
        kill_at = int(words[3]) if cmd == "publish" and int(words[3]) > 0 else None
        bp = Backpack.open(store, mode="a")
        with FaultyDisk(store, kill_at=kill_at) as disk:
            publish(bp, seed)
        if cmd == "count":
            say("OPS", len(disk.ops))
    elif cmd == "load":  # load STORE WRITERS READERS SECONDS OUTDIR: fork them all, wait for all
        store, writers, readers, seconds, outdir = (
            words[1],
            int(words[2]),
            int(words[3]),
            float(words[4]),
            words[5],
        )
        pids = []
        for i in range(writers + readers):
            pid = os.fork()
            if pid == 0:
                name = f"w{i}" if i < writers else f"r{i - writers}"
                with open(os.path.join(outdir, name), "w") as out:
                    if i < writers:
                        load_writer(store, i, seconds, out)
                    else:
                        load_reader(store, seconds, out)
                os._exit(0)
            pids.append(pid)
        failed = [pid for pid in pids if os.waitpid(pid, 0)[1] != 0]
        if failed:
            raise RuntimeError(f"{len(failed)} load workers failed")
    elif cmd == "loop":
        with open(words[3], "wb", buffering=0) as log:
            _loop(words[1], log, words[4:])


def serve() -> None:
    import faiss  # noqa: F401 -- imported before forking so that children start at once
    import zarr  # noqa: F401

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _child(words)
            except BaseException as exc:  # noqa: BLE001 -- reported through the exit status
                print(f"child error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                code = 3
            os._exit(code)
        if words[0] == "loop":
            time.sleep(float(words[2]))
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        say("EXIT", -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


def main(argv: list[str]) -> None:
    mode = argv[0]
    say("READY")
    if mode == "serve":
        serve()
    elif mode == "query":
        say(json.dumps(query_results(Backpack.open(argv[1]))))
    else:  # pragma: no cover - a test bug
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
