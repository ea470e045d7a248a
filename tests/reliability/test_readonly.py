"""Read-only safety: a store opened read-only serves every read and query and refuses every write.

Three ways to be read-only: ``mode="r"`` (and zip bundles), a directory without write permission
(tested as an unprivileged user: root ignores permissions), and an S3 bucket whose policy denies
writes. Several threads and processes querying one store get identical results.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backpack.errors import BackpackError, ReadOnlyError
from backpack.store import Backpack
from tests.reliability.rel_common import (
    HERE,
    WORKER,
    content_problems,
    new_store,
    publish,
    snapshot,
    worker_env,
)


def _queries(dim: int) -> np.ndarray:
    return np.random.default_rng(7).normal(size=(16, dim)).astype(np.float32)


def _reads(bp: Backpack) -> dict[str, Any]:
    """Every read a user can do on a handle, as comparable values."""
    out: dict[str, Any] = {"versions": bp.versions(), "tags": bp.tags(), "problems": bp.verify()}
    for v in bp.versions():
        view = bp.at(v)
        for name in view.task_names:
            t = view.task(name)
            scores, ids = t.search(_queries(t.dim), k=5)
            out[f"{v}/{name}"] = (
                t.prototypes.sum(),
                t.keys.tolist(),
                t.support.tolist(),
                ids.tolist(),
                np.round(scores, 5).tolist(),
                t.key_names([0]),
            )
    return out


def _writes_refused(bp: Backpack, error: type[Exception] = ReadOnlyError) -> int:
    """Try every write; each must raise ``error``. Returns how many were tried."""
    attempts = [
        lambda: bp.new_version(message="x"),
        lambda: bp.tag("new", 1),
        lambda: bp.tag("stable", 2, force=True),
        lambda: bp.delete_tag("stable"),
    ]
    for attempt in attempts:
        with pytest.raises(error) as info:
            attempt()
        assert str(bp.url) in str(info.value), str(info.value)  # names the store
    return len(attempts)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    bp = new_store(tmp_path / "store")
    publish(bp, 2)
    bp.tag("stable", 1)
    return tmp_path / "store"


def test_mode_r_serves_reads_and_refuses_writes(store: Path, tmp_path: Path) -> None:
    expected = _reads(Backpack.open(store, mode="a"))
    before = snapshot(store)
    ro = Backpack.open(store, mode="r")
    assert _reads(ro) == expected
    assert _writes_refused(ro) == 4
    with pytest.raises(ReadOnlyError):
        ro.backend.write("versions/00000009.json", b"{}")
    assert ro.export(tmp_path / "out.zip").is_file()  # export writes elsewhere: allowed
    assert snapshot(store) == before


def test_bundle_is_read_only(store: Path, tmp_path: Path) -> None:
    bundle = Backpack.open(store).export(tmp_path / "b.zip")
    with pytest.raises(ReadOnlyError, match="mode='a'"):
        Backpack.open(bundle, mode="a")
    zipped = Backpack.open(bundle)
    assert _reads(zipped) == _reads(Backpack.open(store))
    _writes_refused(zipped)


_AS_USER = r"""
import json, sys
from backpack.store import Backpack
sys.path.insert(0, sys.argv[2])
from tests.reliability.rel_common import publish
from tests.reliability.rel_worker import query_results
bp = Backpack.open(sys.argv[1])
out = {"versions": bp.versions(), "tags": bp.tags(), "problems": bp.verify(), "query": query_results(bp)}
try:
    publish(Backpack.open(sys.argv[1], mode="a"), 77)
    out["publish"] = "succeeded"
except Exception as exc:
    out["publish"] = type(exc).__name__ + ": " + str(exc)
print(json.dumps(out))
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged user can read (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="backpack-ro-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in path.rglob("*"):
            if p.is_dir():
                p.chmod(0o755)
        shutil.rmtree(path)


def _drop_root_file_powers() -> None:
    """In the child before exec: remove CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER from the
    bounding set, so the root process that exec's next obeys file permissions like any user."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_read_only_directory(store: Path, shared_dir: Path) -> None:
    ro_store = shared_dir / "store"
    shutil.copytree(store, ro_store)
    for p in [ro_store, *ro_store.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    before = snapshot(ro_store)
    kwargs: dict[str, Any] = {}
    if os.geteuid() == 0:  # root ignores permissions: drop the capabilities that let it
        kwargs = {"preexec_fn": _drop_root_file_powers}
    proc = subprocess.run(
        [sys.executable, "-c", _AS_USER, str(ro_store), str(HERE)],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=120,
        cwd=shared_dir,
        **kwargs,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["versions"] == [1, 2] and out["tags"] == {"stable": 1} and out["problems"] == []
    expected = json.loads(
        subprocess.run(
            [sys.executable, str(WORKER), "query", str(store)],
            capture_output=True,
            text=True,
            env=worker_env(),
            check=True,
        ).stdout.splitlines()[-1]
    )
    assert out["query"] == expected
    assert out["publish"].startswith(("PermissionError", "ReadOnlyError", "StoreError")), out["publish"]
    assert "ermission" in out["publish"] or "read-only" in out["publish"], out["publish"]
    print(f"\npublish into a read-only directory: {out['publish'][:160]}")
    assert snapshot(ro_store) == before


def test_threads_and_processes_query_one_store_identically(store: Path) -> None:
    expected = json.loads(
        subprocess.run(
            [sys.executable, str(WORKER), "query", str(store)],
            capture_output=True,
            text=True,
            env=worker_env(),
            check=True,
        ).stdout.splitlines()[-1]
    )
    sys.path.insert(0, str(HERE))
    from tests.reliability.rel_worker import query_results

    bp = Backpack.open(store)  # one handle, its lazy caches filled concurrently
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: query_results(bp), range(32)))
    assert all(r == expected for r in results)
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "query", str(store)],
            stdout=subprocess.PIPE,
            text=True,
            env=worker_env(),
        )
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=120)[0].splitlines()[-1]) for p in procs]
    assert all(o == expected for o in outs)


@pytest.mark.s3
def test_mode_r_on_s3(s3_url: str, s3_storage_options: dict[str, str]) -> None:
    bp = new_store(s3_url, storage_options=s3_storage_options)
    publish(bp, 2)
    bp.tag("stable", 1)
    ro = Backpack.open(s3_url, mode="r", storage_options=s3_storage_options)
    assert _reads(ro) == _reads(bp)
    _writes_refused(ro)
    assert ro.versions() == [1, 2]


@pytest.mark.s3
def test_bucket_without_write_permission(s3_server: str, s3_storage_options: dict[str, str]) -> None:
    """A bucket policy denying PutObject/DeleteObject: reads work; publishing fails clearly."""
    import boto3

    bucket = f"ro-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/store"
    bp = new_store(url, storage_options=s3_storage_options)
    publish(bp, 2)
    expected = _reads(bp)
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    reader = Backpack.open(url, storage_options=s3_storage_options)
    assert _reads(reader) == expected
    writer = Backpack.open(url, mode="a", storage_options=s3_storage_options)
    with pytest.raises((BackpackError, PermissionError)) as info:
        publish(writer, 3)
    # Clear: says access was denied and names the store (a bare "Forbidden" names nothing).
    msg = str(info.value)
    assert ("denied" in msg.lower() or "forbidden" in msg.lower()) and bucket in msg, (
        f"unclear error: {msg!r}"
    )
    with pytest.raises(BackpackError):
        writer.tag("new", 1)
    assert sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]) == keys
    assert content_problems(Backpack.open(url, storage_options=s3_storage_options)) == []
