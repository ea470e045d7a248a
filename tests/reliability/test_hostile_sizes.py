"""Declared shapes must be backed by the bytes present before anything of that size is allocated."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import pytest

from backpack.errors import IntegrityError
from backpack.store import Backpack
from tests.reliability.rel_common import new_store
from tests.reliability.rel_craft import edit_manifest

MiB = 2**20


@pytest.mark.parametrize("rows", [2**16, 2**24])  # 4 MiB and 1 GiB of float32 x 16
def test_one_junk_chunk_claiming_a_huge_array(tmp_path: Path, rows: int) -> None:
    store = tmp_path / "store"
    new_store(store).close()
    manifest = json.loads((store / "versions/00000001.json").read_text())
    group = store / manifest["tasks"]["ar"]["path"]
    dim = manifest["tasks"]["ar"]["dim"]

    def change(m: dict) -> None:
        t = m["tasks"]["ar"]
        t["count"] = rows
        for name, shape in (("prototypes", [rows, dim]), ("keys", [rows, 2]), ("support", [rows])):
            t["arrays"][name]["shape"] = shape

    edit_manifest(store, 1, change)
    meta = json.loads((group / "prototypes" / "zarr.json").read_text())
    meta["shape"] = [rows, dim]
    meta["chunk_grid"]["configuration"]["chunk_shape"] = [rows, dim]  # one chunk: the whole array
    (group / "prototypes" / "zarr.json").write_text(json.dumps(meta))
    shutil.rmtree(group / "prototypes" / "c")
    (group / "prototypes" / "c" / "0").mkdir(parents=True)
    (group / "prototypes" / "c" / "0" / "0").write_bytes(b"\x00" * 600)  # the whole "array"
    view = Backpack.open(store).task("ar")
    tracemalloc.start()
    try:
        with pytest.raises(IntegrityError, match=r"Stored bytes of .*'prototypes' do not back its shape"):
            view.prototypes
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"a {rows * dim * 4 / MiB:.0f} MiB claim allocated {peak / MiB:.1f} MiB"
    print(f"\n{rows * dim * 4 / MiB:.0f} MiB claim from 600 bytes: peak {peak / MiB:.2f} MiB (bound 8 MiB)")
    assert any("do not back its shape" in p for p in Backpack.open(store).verify())
