"""A bundle read in place (``Backpack.open("x.zip")``) gets the same checks as ``import``."""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path

import pytest

from backpack.errors import BundleError
from backpack.store import Backpack
from tests.reliability.rel_craft import rewrite_zip, valid_bundle

MiB = 2**20


def _peak(fn: object) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001 -- the test checks which one
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return None, 0


def test_duplicate_entry_is_refused_in_place(tmp_path: Path) -> None:
    good = valid_bundle(tmp_path)
    with pytest.warns(UserWarning):
        bad = rewrite_zip(good, tmp_path / "bad.zip", extra=[("versions/00000001.json", b"{}")])
    with pytest.raises(BundleError, match="Duplicate entry 'versions/00000001.json'"):
        Backpack.open(bad)


def test_zip_bomb_is_refused_in_place_with_bounded_memory(tmp_path: Path) -> None:
    good = valid_bundle(tmp_path)
    bad = rewrite_zip(good, tmp_path / "bad.zip", extra=[("data/bomb/c/0", bytes(200 * MiB))])
    exc, peak = _peak(lambda: Backpack.open(bad))
    assert isinstance(exc, BundleError) and "zip bomb" in str(exc), exc
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    print(f"\nbomb in place: peak {peak / MiB:.2f} MiB (bound 16 MiB)")


def test_entry_larger_than_declared_is_cut_in_place(tmp_path: Path) -> None:
    good = valid_bundle(tmp_path)
    bad = rewrite_zip(good, tmp_path / "bad.zip", extra=[("data/liar/c/0", bytes(64 * MiB))])
    raw = bytearray(bad.read_bytes())
    with zipfile.ZipFile(bad) as zf:
        info = zf.getinfo("data/liar/c/0")
    lie = (1024).to_bytes(4, "little")  # declared size 1 KiB, in both headers
    raw[info.header_offset + 22 : info.header_offset + 26] = lie
    pos = 0
    while (pos := raw.find(b"PK\x01\x02", pos)) >= 0:
        n = int.from_bytes(raw[pos + 28 : pos + 30], "little")
        if raw[pos + 46 : pos + 46 + n] == b"data/liar/c/0":
            raw[pos + 24 : pos + 28] = lie
        pos += 4
    bad.write_bytes(bytes(raw))
    bp = Backpack.open(bad)
    exc, peak = _peak(lambda: bp.backend.read("data/liar/c/0"))
    assert isinstance(exc, BundleError), exc
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"
    print(f"\nunder-declared entry in place: peak {peak / MiB:.2f} MiB (bound 8 MiB)")
    assert bp.verify() == []  # the store's own entries are fine
