"""SIGKILL of the real CLI: ``backpack build`` at 20 random points (feature forwarding, array
writes, manifest commit), ``backpack import`` and ``backpack tag``; after each kill
``backpack verify`` passes on every earlier version, no partial version is listed, and the next
command succeeds. Slow (each ``build`` imports torch and forwards the training clips).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backpack.store import Backpack
from tests.reliability.rel_common import worker_env

pytestmark = pytest.mark.slow
N_KILLS = int(os.environ.get("BACKPACK_CLI_KILLS", "20"))


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "backpack.cli.main", *args]


def _ok(*args: str, timeout: float = 900) -> str:
    proc = subprocess.run(_cmd(*args), capture_output=True, text=True, env=worker_env(), timeout=timeout)
    assert proc.returncode == 0, f"{args[0]} failed: {proc.stderr[-3000:]}"
    return proc.stdout


def _killed_at(args: list[str], delay: float) -> None:
    proc = subprocess.Popen(
        _cmd(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=worker_env()
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _check(store: Path, before: list[int]) -> list[int]:
    if not (store / "backpack.json").exists():
        assert before == []
        return []
    versions = Backpack.open(store).versions()
    assert versions[: len(before)] == before and len(versions) - len(before) <= 1
    if versions:
        report = json.loads(_ok("verify", str(store), "--json"))
        assert report.get("ok", True) and not report.get("problems"), report
    return versions


def _build_args(run_dir: Path, data: Path, store: Path) -> list[str]:
    # --allow-empty: every build here forwards the same run, and a build identical to its parent
    # publishes nothing by default, so without it no kill would land in a publish
    return ["build", str(run_dir), "--data", str(data), "--store", str(store)] + [
        "--device",
        "cpu",
        "--allow-empty",
        "--json",
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli-kill")
    data, run_dir = root / "data", root / "run"
    _ok("synth", "--out", str(data), "--json")
    _ok(
        "train",
        "--data",
        str(data),
        "--tasks",
        "ar,oscc",
        "--limit",
        "ar=64",
        "--limit",
        "oscc=32",
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--device",
        "cpu",
        "--out",
        str(run_dir),
        "--json",
    )
    return data, run_dir


def test_kill_build_at_random_points(run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = run
    store = tmp_path / "store"
    build = _build_args(run_dir, data, store)
    t0 = time.monotonic()
    _ok(*build)
    duration = time.monotonic() - t0
    rng = random.Random(5)
    versions = [1]
    for _ in range(N_KILLS):
        _killed_at(build, rng.uniform(0.3, duration))
        versions = _check(store, versions)
    _ok(*build)  # the next build succeeds
    assert _check(store, versions) == [*versions, versions[-1] + 1]
    print(f"\nbackpack build killed {N_KILLS} times (one build: {duration:.1f} s); versions lost: 0")


_FAULTY_CLI = r"""
import sys
from tests.reliability.rel_faults import FaultyDisk
from backpack.cli.main import cli
store, kill_at, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
with FaultyDisk(store, kill_at=kill_at or None) as disk:
    try:
        cli.main(args, standalone_mode=False)
    finally:
        print("OPS", len(disk.ops), file=sys.stderr)
"""


def test_kill_build_at_exact_writes(run: tuple[Path, Path], tmp_path: Path) -> None:
    """``backpack build`` killed just before its first array write, in the middle, before the
    manifest's temp file and before the manifest's link (the commit)."""
    data, run_dir = run
    store = tmp_path / "store"
    build = _build_args(run_dir, data, store)

    def faulty(kill_at: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", _FAULTY_CLI, str(store), str(kill_at), *build],
            capture_output=True,
            text=True,
            env=worker_env(),
            timeout=900,
        )

    _ok(*build)  # version 1 (creates the store)
    counted = faulty(0)  # version 2, counting its write operations
    assert counted.returncode == 0, counted.stderr[-2000:]
    # minus head.json's temp file + rename, written after the commit (a kill there publishes)
    total = int(counted.stderr.split("OPS")[-1].split()[0]) - 2
    points = sorted({1, total // 2, total - 1, total})
    for n in points:
        proc = faulty(n)
        assert proc.returncode == -signal.SIGKILL, f"kill point {n}: {proc.stderr[-1000:]}"
        assert _check(store, [1, 2]) == [1, 2]
    _ok(*build)
    assert _check(store, [1, 2]) == [1, 2, 3]
    print(f"\nbackpack build killed before write ops {points} of {total}; versions lost: 0")


def test_kill_import_and_tag(run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = run
    store = tmp_path / "store"
    for _ in range(2):
        _ok(*_build_args(run_dir, data, store))
    bundle = tmp_path / "b.zip"
    _ok("export", str(store), str(bundle))
    rng = random.Random(6)
    for i in range(N_KILLS // 2):
        dest = tmp_path / f"imp{i}"
        _killed_at(["import", str(bundle), str(dest)], rng.uniform(0.2, 2.5))
        if dest.exists():
            assert Backpack.open(dest).versions() == [1, 2]
            _ok("verify", str(dest))
        else:
            _ok("import", str(bundle), str(dest))
        _killed_at(["tag", str(store), f"t{i}", str(1 + i % 2)], rng.uniform(0.2, 2.5))
        _check(store, [1, 2])
        assert set(Backpack.open(store).tags().values()) <= {1, 2}
    _ok("tag", str(store), "final", "2")
