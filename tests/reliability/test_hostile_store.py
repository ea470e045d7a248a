"""Stores from someone else: FAISS bytes and arrays are verified before they are deserialised,
and a store whose metadata claims huge arrays cannot make a reader allocate them.

Memory checks run in a subprocess with an address-space limit (so a regression fails the test
instead of exhausting the machine) and compare peak RSS before and after the read.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backpack.errors import IntegrityError
from backpack.store import Backpack
from tests.reliability.rel_common import HERE, new_store, worker_env
from tests.reliability.rel_craft import chunk_files, edit_manifest, sha_of_bytes


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    new_store(path).close()
    return path


def _spy_deserialize(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import faiss

    calls: list[int] = []
    real = faiss.deserialize_index

    def spy(data):  # type: ignore[no-untyped-def]
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(faiss, "deserialize_index", spy)
    return calls


def test_faiss_bytes_not_matching_checksum_are_never_deserialised(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunk = chunk_files(store, 1, "ar", "index")[0]
    raw = bytearray(chunk.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the serialized index, before the crc32c
    chunk.write_bytes(bytes(raw))
    calls = _spy_deserialize(monkeypatch)
    bp = Backpack.open(store)
    with pytest.raises(IntegrityError, match="'index'"):
        bp.task("ar").search(np.ones((1, 16), np.float32), k=1)
    assert calls == []  # refused before faiss saw a byte
    problems = bp.verify()
    assert len(problems) == 1 and "'index'" in problems[0] and "'ar'" in problems[0]
    assert len(calls) == 1  # only the intact index of 'lta' was deserialised
    # The other task still serves (damage is reported per array).
    assert bp.task("lta").search(np.ones((1, 16), np.float32), k=1)[1].shape == (1, 1)


def test_manifest_checksum_of_index_changed(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edit_manifest(store, 1, lambda m: m["tasks"]["ar"]["arrays"]["index"].update(sha256="ab" * 32))
    calls = _spy_deserialize(monkeypatch)
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        Backpack.open(store).task("ar").index
    assert calls == []


def test_arrays_are_verified_before_use(store: Path) -> None:
    chunk = chunk_files(store, 1, "lta", "keys")[0]
    chunk.write_bytes(chunk.read_bytes()[:-3])  # truncated chunk
    bp = Backpack.open(store)
    with pytest.raises(IntegrityError, match="keys"):
        bp.task("lta").keys
    with pytest.raises(IntegrityError):
        bp.task("lta").key_names([0])


_MEASURE = r"""
import resource, sys, json, tracemalloc
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))  # a regression fails, not the machine
from backpack.store import Backpack
from backpack.errors import BackpackError
bp = Backpack.open(sys.argv[1])
view = bp.task("ar")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()  # numpy reports its buffers to tracemalloc: deterministic, unlike RSS
try:
    getattr(view, sys.argv[2])
    outcome = "read"
except BackpackError as exc:
    outcome = "refused: " + type(exc).__name__ + ": " + str(exc)[:200]
except BaseException as exc:
    outcome = "crashed: " + type(exc).__name__ + ": " + str(exc)[:200]
traced = tracemalloc.get_traced_memory()[1]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "grew_mib": (after - before) / 1024, "traced_mib": traced / 2**20}))
"""


def _measure(store: Path, attribute: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(store), attribute],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=300,
        cwd=HERE,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_self_consistent_huge_claim_allocates_nothing(store: Path) -> None:
    """Manifest and zarr.json agree on 300,000 x 16 floats (19 MB) that were never stored.

    The reader must notice the missing chunks before allocating the claimed array; filling
    19 MB (or, at the format's limit, 64 GiB) of fill values and hashing them is a
    denial of service.
    """
    n = 300_000

    def change(m: dict) -> None:
        t = m["tasks"]["ar"]
        t["count"] = n
        for name, shape in (("prototypes", [n, t["dim"]]), ("keys", [n, 2]), ("support", [n])):
            t["arrays"][name]["shape"] = shape

    edit_manifest(store, 1, change)
    manifest = json.loads((store / "versions/00000001.json").read_text())
    group = store / manifest["tasks"]["ar"]["path"]
    for name, shape in (("prototypes", [n, 16]), ("keys", [n, 2]), ("support", [n])):
        meta = json.loads((group / name / "zarr.json").read_text())
        meta["shape"] = shape
        (group / name / "zarr.json").write_text(json.dumps(meta))
    result = _measure(store, "prototypes")
    assert result["outcome"].startswith("refused: IntegrityError"), result
    assert result["traced_mib"] < 8, (
        f"reading a {n * 64 / 2**20:.0f} MiB claim allocated {result['traced_mib']:.0f} MiB"
    )
    print(
        f"\n{n * 64 / 2**20:.0f} MiB self-consistent claim: peak {result['traced_mib']:.2f} MiB (bound 8 MiB)"
    )


def test_crafted_faiss_index_with_valid_checksum(store: Path) -> None:
    """FAISS bytes whose internal vector size says 8 GiB, with a matching sha256 in the manifest.

    The checksum cannot protect against a hostile writer (they compute it); the reader must
    still refuse with a house error and bounded memory instead of letting faiss allocate.
    """
    chunk = chunk_files(store, 1, "ar", "index")[0]
    raw = bytearray(chunk.read_bytes()[:-4])  # drop the crc32c: raw uint8 FAISS bytes
    n_floats = 64 * 16
    pos = len(raw) - 4 * n_floats - 8
    assert struct.unpack("<Q", raw[pos : pos + 8])[0] == n_floats  # the xb vector's length
    raw[pos : pos + 8] = struct.pack("<Q", 2**31)  # 2^31 floats = 8 GiB
    from backpack.store._arrays import write_group

    # Rewrite the index array through zarr (valid crc32c) and put its new sha256 in the manifest.
    manifest = json.loads((store / "versions/00000001.json").read_text())
    prefix = manifest["tasks"]["ar"]["path"].rstrip("/") + "-crafted"
    bp = Backpack.open(store, mode="a")
    arrays = {n: np.asarray(getattr(bp.task("ar"), n)) for n in ("prototypes", "keys", "support")}
    arrays["index"] = np.frombuffer(bytes(raw), dtype=np.uint8)
    entries = write_group(bp.backend, prefix, arrays, {"backpack_task": "ar"})
    assert entries["index"].sha256 == sha_of_bytes(bytes(raw))

    def change(m: dict) -> None:
        m["tasks"]["ar"]["path"] = prefix + "/"
        m["tasks"]["ar"]["arrays"]["index"] = entries["index"].to_dict()

    edit_manifest(store, 1, change)
    result = _measure(store, "index")
    assert result["outcome"].startswith("refused: IntegrityError"), result
    assert result["grew_mib"] < 64, result
    print(f"\nFAISS bytes claiming 8 GiB: RSS grew {result['grew_mib']:.2f} MiB (bound 64 MiB)")
