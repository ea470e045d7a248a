"""Shared helpers of the reliability tests: seeded version contents, store checks, snapshots.

A version written by these tests records ``provenance.extra = {"seed": s}``; its tasks are
regenerated from ``s`` by :func:`version_tasks`, so a check can compare every listed version with
what its writer meant to publish, whoever wrote it (this process or a killed subprocess).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from backpack.store import Backpack

VERBS = tuple(f"verb{i}" for i in range(20))
NOUNS = tuple(f"noun{i}" for i in range(40))
HERE = Path(__file__).resolve().parent
WORKER = HERE / "rel_worker.py"
REPO = HERE.parent.parent


def task_arrays(seed: int, count: int = 64, dim: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (prototypes [count, dim] float32, keys [count, 2] int32, support [count] int64)."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(len(VERBS) * len(NOUNS), size=count, replace=False)
    keys = np.stack([flat // len(NOUNS), flat % len(NOUNS)], axis=1).astype(np.int32)
    protos = rng.normal(size=(count, dim)).astype(np.float32)
    return protos, keys, rng.integers(1, 50, size=count).astype(np.int64)


def version_tasks(seed: int, big: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The tasks a version with ``extra.seed == seed`` holds (``big``: about 1.5 MB per task)."""
    count, dim = (700, 256) if big else (64, 16)
    return {name: task_arrays(seed * 10 + j, count, dim) for j, name in enumerate(("ar", "lta"))}


def publish(bp: Backpack, seed: int, big: bool = False) -> int:
    """Publish the version of ``seed`` through ``bp``; return its number."""
    tasks = version_tasks(seed, big)

    def build(v: Any) -> None:
        for name, (p, k, s) in tasks.items():
            v.add_task(name, p, k, s, index="flat")

    # concurrent writers: a lost race rebuilds on the new latest instead of dropping its changes
    return bp.update(
        build, message=f"seed {seed}", provenance={"extra": {"seed": seed, "big": big}}, retries=10_000
    )


def new_store(path: str | Path, seed: int = 1, storage_options: dict[str, Any] | None = None) -> Backpack:
    """A store with one published version (``seed``), as a writable handle."""
    bp = Backpack.create(str(path), verbs=VERBS, nouns=NOUNS, storage_options=storage_options)
    publish(bp, seed)
    return bp


def content_problems(bp: Backpack, versions: list[int] | None = None) -> list[str]:
    """``verify()`` plus a comparison of every version's arrays with what its seed says."""
    problems = list(bp.verify(versions))
    for number in bp.versions() if versions is None else versions:
        extra = bp.manifest_of(number).provenance.extra
        expected = version_tasks(int(extra["seed"]), bool(extra.get("big")))
        view = bp.at(number)
        if sorted(view.task_names) != sorted(expected):
            problems.append(f"version {number}: tasks {view.task_names}, expected {sorted(expected)}")
            continue
        for name, (p, k, s) in expected.items():
            t = view.task(name)
            if not (
                np.array_equal(t.prototypes, p) and np.array_equal(t.keys, k) and np.array_equal(t.support, s)
            ):
                problems.append(f"version {number}, task {name!r}: arrays differ from seed {extra['seed']}")
    return problems


def snapshot(root: str | Path) -> dict[str, str]:
    """Relative path -> sha256 of every regular file under ``root`` (what 'unchanged' compares)."""
    out = {}
    base = Path(root)
    for p in sorted(base.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[p.relative_to(base).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def listed_snapshot(root: str | Path) -> dict[str, str]:
    """:func:`snapshot` without the temp files a killed writer may leave (never listed by the store)."""
    return {
        k: v
        for k, v in snapshot(root).items()
        if not any(part.startswith(".tmp-") or part.endswith(".partial") for part in k.split("/"))
    }


def worker_env() -> dict[str, str]:
    """Environment of worker subprocesses: the repo importable, one BLAS thread each."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(HERE), env.get("PYTHONPATH", "")]))
    env.setdefault("DGLBACKEND", "pytorch")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def start_worker(*args: str, **kw: Any) -> subprocess.Popen:
    """Start ``rel_worker.py`` with ``args`` (stdout piped, line-buffered text)."""
    return subprocess.Popen(
        [sys.executable, "-u", str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=worker_env(),
        **kw,
    )


def run_worker(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess:
    """Run ``rel_worker.py`` with ``args`` to the end."""
    return subprocess.run(
        [sys.executable, "-u", str(WORKER), *args],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=timeout,
        **kw,
    )


def wait_ready(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Block until the worker prints ``READY`` (imports done), or fail with its stderr."""
    import select

    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != "READY":
        proc.kill()
        raise AssertionError(f"worker did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")


class ForkServer:
    """Client of ``rel_worker.py serve``: run commands in forked, killable children."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(WORKER), "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=worker_env(),
        )
        wait_ready(self.proc)

    def run(self, *words: object) -> tuple[int, list[str]]:
        """Send one command; return (exit status of the child, lines it printed before)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(" ".join(map(str, words)) + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"fork server died (rc {self.proc.poll()})")
            if line.startswith("EXIT "):
                return int(line.split()[1]), lines
            lines.append(line.rstrip("\n"))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
