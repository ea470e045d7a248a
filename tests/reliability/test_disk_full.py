"""A full disk while writing a version, a tag or an imported bundle: a clear error, the store unchanged.

Two ways to fill the disk: an injected ``ENOSPC`` after a byte budget (:class:`rel_faults.FaultyDisk`,
swept over budgets so the failure hits every kind of write of a publish), and a real, tiny tmpfs
(needs the right to mount, so it is skipped where tests do not run as root).
"""

from __future__ import annotations

import errno
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backpack.errors import BackpackError
from backpack.store import Backpack, import_bundle
from tests.reliability.rel_common import content_problems, listed_snapshot, new_store, publish, snapshot
from tests.reliability.rel_faults import FaultyDisk


def _disk_full(exc: BaseException) -> bool:
    """A clear disk-full error: ENOSPC, with the message saying so (or a house error wrapping it)."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC and "No space left" in str(exc):
            return True
        if isinstance(exc, BackpackError) and "space" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def _publish_bytes(tmp_path: Path) -> int:
    store = tmp_path / "probe"
    bp = new_store(store)
    with FaultyDisk(store, budget=10**12) as disk:
        publish(bp, 2)
    # head.json is rewritten after the commit, best effort (a full disk there fails nothing)
    return 10**12 - disk.budget - (store / "head.json").stat().st_size  # type: ignore[operator]


def _budgets(total: int) -> list[int]:
    """Budgets that stop a publish in every phase: first bytes, each array, the manifest."""
    return sorted({0, 1, 200, total - 1, total - 40} | {total * i // 14 for i in range(1, 14)})


def _referenced(root: Path) -> dict[str, str]:
    """What the store serves: root, manifests, tags and the data the manifests name."""
    bp = Backpack.open(root)
    paths = {t.path for v in bp.versions() for t in bp.manifest_of(v).tasks.values()}
    return {
        k: h
        for k, h in listed_snapshot(root).items()
        if not k.startswith("data/") or any(k.startswith(p) for p in paths)
    }


def test_enospc_at_many_points_of_a_publish(tmp_path: Path) -> None:
    """Whatever write hits the full disk, the error is clear and the store serves the same thing."""
    total = _publish_bytes(tmp_path)
    store = tmp_path / "store"
    bp = new_store(store)
    before = listed_snapshot(store)
    budgets = _budgets(total)
    for i, budget in enumerate(budgets):
        with pytest.raises(OSError) as info, FaultyDisk(store, budget=budget):
            publish(bp, 50 + i)
        assert _disk_full(info.value), f"budget {budget}: unclear error {info.value!r}"
        assert _referenced(store) == before, f"budget {budget}: what the store serves changed"
        assert Backpack.open(store).versions() == [1]
    assert publish(bp, 99) == 2  # the next publish succeeds
    assert content_problems(Backpack.open(store)) == []
    print(f"\nENOSPC injected at {len(budgets)} points of a {total}-byte publish; store changed: 0")


def test_enospc_leaves_no_orphan_data(tmp_path: Path) -> None:
    """A publish that fails on a full disk deletes the data it wrote (space matters most then).

    Fails today when the *manifest* write hits ENOSPC: ``VersionWriter.__exit__`` calls
    ``commit()`` and, when that raises, never ``abort()``, so the version's arrays stay behind.
    """
    total = _publish_bytes(tmp_path)
    store = tmp_path / "store"
    bp = new_store(store)
    leaked = []
    for i, budget in enumerate(_budgets(total)):
        before = snapshot(store)
        with pytest.raises(OSError), FaultyDisk(store, budget=budget):
            publish(bp, 50 + i)
        if snapshot(store) != before:
            leaked.append(budget)
    assert leaked == [], f"failed publishes left data behind at budgets {leaked} of {total} bytes"


def test_enospc_while_tagging(tmp_path: Path) -> None:
    store = tmp_path / "store"
    bp = new_store(store)
    publish(bp, 2)
    bp.tag("stable", 1)
    before = snapshot(store)
    for budget in (0, 10):
        with pytest.raises(OSError) as info, FaultyDisk(store, budget=budget):
            bp.tag("new", 2)
        assert _disk_full(info.value)
        with pytest.raises(OSError), FaultyDisk(store, budget=budget):
            bp.tag("stable", 2, force=True)
        assert listed_snapshot(store) == before
        assert Backpack.open(store).tags() == {"stable": 1}
    assert bp.tag("new", 2) == 2


@pytest.fixture
def tiny_fs() -> Iterator[Path]:
    """A 1 MiB tmpfs (root only); unmounted afterwards."""
    mnt = Path(f"/tmp/backpack-tiny-{uuid.uuid4().hex[:8]}")
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        mnt.rmdir()
        pytest.skip(
            f"cannot mount a tmpfs here ({proc.stderr.decode().strip()}); the injected ENOSPC tests cover "
            "this"
        )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
        mnt.rmdir()


def test_real_full_filesystem(tiny_fs: Path) -> None:
    """A 1 MiB file system: a 3 MB publish fails clearly, the store is unchanged, space is freed."""
    store = tiny_fs / "store"
    bp = new_store(store)
    before = snapshot(store)
    with pytest.raises(OSError) as info:
        publish(bp, 2, big=True)
    assert _disk_full(info.value), repr(info.value)
    assert listed_snapshot(store) == before
    assert Backpack.open(store).versions() == [1]
    assert publish(bp, 3) == 2  # the failed publish freed its space: a small one still fits
    assert content_problems(Backpack.open(store)) == []


def test_real_full_filesystem_on_import(tiny_fs: Path, tmp_path: Path) -> None:
    src = new_store(tmp_path / "src")
    publish(src, 2, big=True)
    bundle = src.export(tmp_path / "b.zip")
    dest = tiny_fs / "imported"
    with pytest.raises((OSError, BackpackError)) as info:
        import_bundle(bundle, dest)
    assert _disk_full(info.value), repr(info.value)
    assert not dest.exists()
    assert list(tiny_fs.iterdir()) == []  # the temp folder is gone too
    assert shutil.disk_usage(tiny_fs).used < 64 * 1024


def test_cli_import_on_full_filesystem(tiny_fs: Path, tmp_path: Path) -> None:
    """``backpack import`` onto a full disk: a one-line error and a non-zero exit, no traceback."""
    import sys

    from tests.reliability.rel_common import worker_env

    src = new_store(tmp_path / "src")
    publish(src, 2, big=True)
    bundle = src.export(tmp_path / "b.zip")
    proc = subprocess.run(
        [sys.executable, "-m", "backpack.cli.main", "import", str(bundle), str(tiny_fs / "dest")],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "No space left" in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
    assert list(tiny_fs.iterdir()) == []
