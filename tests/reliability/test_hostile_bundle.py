"""Bundles from someone else: unsafe entry names, symlinks, duplicates, zip bombs, bad checksums.

Import must refuse each with a :class:`BundleError`/:class:`IntegrityError` naming the entry,
write nothing outside (and nothing at) the destination, and keep memory bounded (tracemalloc).
"""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from backpack.errors import BackpackError, BundleError, FormatVersionError, IntegrityError, StoreError
from backpack.store import Backpack, import_bundle
from tests.reliability.rel_common import content_problems, snapshot
from tests.reliability.rel_craft import rewrite_zip, symlink_info, valid_bundle
from tests.store.store_data import resign

MiB = 2**20


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return valid_bundle(tmp_path)


def _refused(bundle: Path, tmp_path: Path, error: type[Exception], *words: str) -> str:
    """Import ``bundle``: it must fail with ``error`` and leave no trace anywhere under tmp_path."""
    before = snapshot(tmp_path)
    dest = tmp_path / "dest"
    with pytest.raises(error) as info:
        import_bundle(bundle, dest)
    msg = str(info.value)
    for word in words:
        assert word in msg, msg
    assert not dest.exists()
    assert snapshot(tmp_path) == before, "the refused import wrote files"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dest")], "temp folder left behind"
    return msg


def test_valid_bundle_imports(good: Path, tmp_path: Path) -> None:
    bp = import_bundle(good, tmp_path / "ok")
    assert bp.versions() == [1, 2] and content_problems(bp) == []


@pytest.mark.parametrize(
    "name",
    [
        "../evil.json",
        "data/../../evil.json",
        "/tmp/backpack-evil.json",
        "C:/evil.json",
        "data\\..\\evil.json",
        "./backpack.json.x/../../evil",
    ],
)
def test_escaping_names_are_refused(good: Path, tmp_path: Path, name: str) -> None:
    bad = rewrite_zip(good, tmp_path / "bad.zip", extra=[(name, b"{}")])
    _refused(bad, tmp_path, BundleError, "Unsafe")
    assert not Path("/tmp/backpack-evil.json").exists()
    assert not (tmp_path.parent / "evil.json").exists()


@pytest.mark.parametrize("name", ["backpack.json", "versions/00000001.json"])
def test_nul_in_entry_name(good: Path, tmp_path: Path, name: str) -> None:
    """A NUL byte at the start of an entry name (zipfile cuts the name there: an empty name).

    Found by test_rel_fuzz.py: ``_check_entries`` calls ``info.is_dir()``, which raises
    IndexError on an empty name, before checking the name.
    """
    raw = good.read_bytes()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(raw.replace(name.encode(), b"\x00" + name.encode()[1:]))
    _refused(bad, tmp_path, BundleError)


def test_symlink_entry_is_refused(good: Path, tmp_path: Path) -> None:
    bad = rewrite_zip(good, tmp_path / "bad.zip", extra=[(symlink_info("data/link"), b"/etc/passwd")])
    _refused(bad, tmp_path, BundleError, "symbolic link", "data/link")


def test_duplicate_entry_is_refused(good: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning):  # zipfile itself warns about the duplicate name
        bad = rewrite_zip(good, tmp_path / "bad.zip", extra=[("versions/00000001.json", b"{}")])
    _refused(bad, tmp_path, BundleError, "Duplicate", "versions/00000001.json")


def _refused_peak_memory(bad: Path, tmp_path: Path, entry: str) -> int:
    """Peak traced memory (bytes) while the import of ``bad`` is refused with a BundleError
    naming ``entry``."""
    tracemalloc.start()
    try:
        _refused(bad, tmp_path, BundleError, entry)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_zip_bomb_ratio_is_refused_with_bounded_memory(good: Path, tmp_path: Path) -> None:
    """200 MiB of zeros deflated to about 200 KB: refused from the header, memory stays small."""
    bad = rewrite_zip(good, tmp_path / "bad.zip", extra=[("data/bomb/c/0", bytes(200 * MiB))])
    assert bad.stat().st_size < 2 * MiB
    peak = _refused_peak_memory(bad, tmp_path, "data/bomb/c/0")
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB while refusing a 200 MiB bomb"
    print(f"\n200 MiB zip bomb, import: peak {peak / MiB:.2f} MiB (bound 16 MiB)")


def test_entry_larger_than_declared_is_cut(good: Path, tmp_path: Path) -> None:
    """A header that under-declares the uncompressed size: extraction stops at the declared size."""
    payload = bytes(64 * MiB)
    bad = rewrite_zip(good, tmp_path / "bad.zip", extra=[("data/liar/c/0", payload)])
    raw = bytearray(bad.read_bytes())
    # Patch the declared uncompressed size (local header and central directory) down to 1 KiB.
    with zipfile.ZipFile(bad) as zf:
        info = zf.getinfo("data/liar/c/0")
    lie = (1024).to_bytes(4, "little")
    local = info.header_offset
    raw[local + 22 : local + 26] = lie
    pos = 0
    while (pos := raw.find(b"PK\x01\x02", pos)) >= 0:
        name_len = int.from_bytes(raw[pos + 28 : pos + 30], "little")
        if raw[pos + 46 : pos + 46 + name_len] == b"data/liar/c/0":
            raw[pos + 24 : pos + 28] = lie
        pos += 4
    bad.write_bytes(bytes(raw))
    peak = _refused_peak_memory(bad, tmp_path, "data/liar/c/0")
    assert peak < 32 * MiB, f"peak {peak / MiB:.1f} MiB"
    print(f"\nentry under-declaring 64 MiB, import: peak {peak / MiB:.2f} MiB (bound 32 MiB)")


def test_total_size_bound(good: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="more than 1000 bytes"):
        import_bundle(good, tmp_path / "dest", max_total_bytes=1000)
    assert not (tmp_path / "dest").exists()


def test_not_a_zip_and_truncated(good: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a zip file at all" * 10)
    _refused(junk, tmp_path, BundleError, "junk.zip")
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _refused(cut, tmp_path, BundleError, "cut.zip")


def test_missing_root_is_refused(good: Path, tmp_path: Path) -> None:
    bad = rewrite_zip(good, tmp_path / "bad.zip", edit=lambda n, d: None if n == "backpack.json" else d)
    _refused(bad, tmp_path, BundleError, "backpack.json")


def _flip_chunk(name: str, data: bytes) -> bytes:
    if "/prototypes/c/" in name:
        return data[:100] + bytes([data[100] ^ 1]) + data[101:]
    return data


def test_flipped_byte_in_data_is_refused(good: Path, tmp_path: Path) -> None:
    bad = rewrite_zip(good, tmp_path / "bad.zip", edit=_flip_chunk)
    _refused(bad, tmp_path, IntegrityError, "prototypes")
    # Read in place: the damaged array is refused, the metadata still lists.
    bp = Backpack.open(bad)
    assert bp.versions() == [1, 2]
    with pytest.raises(IntegrityError, match="prototypes"):
        bp.task("ar").prototypes
    assert bp.verify()  # names the problem


def _manifest_edit(change):  # type: ignore[no-untyped-def]
    def edit(name: str, data: bytes) -> bytes:
        if name == "versions/00000001.json":
            m = json.loads(data)
            change(m)
            return json.dumps(resign(m)).encode()  # re-signed: the checks behind it are under test
        return data

    return edit


def test_wrong_checksum_in_manifest_is_refused(good: Path, tmp_path: Path) -> None:
    def change(m: dict) -> None:
        m["tasks"]["ar"]["arrays"]["support"]["sha256"] = "0" * 64

    bad = rewrite_zip(good, tmp_path / "bad.zip", edit=_manifest_edit(change))
    _refused(bad, tmp_path, IntegrityError, "support", "Checksum mismatch")


@pytest.mark.parametrize("key", ["versions/00000001.json", "backpack.json"])
def test_unknown_format_version_is_refused(good: Path, tmp_path: Path, key: str) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name != key:
            return data
        m = json.loads(data)
        m["format_version"] = 99
        return json.dumps(m).encode()

    bad = rewrite_zip(good, tmp_path / "bad.zip", edit=edit)
    with pytest.raises(BackpackError, match="format_version"):
        import_bundle(bad, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    if key == "backpack.json":
        with pytest.raises(FormatVersionError, match="newer backpack"):
            Backpack.open(bad)
    else:
        with pytest.raises(FormatVersionError):
            Backpack.open(bad).manifest_of(1)


@pytest.mark.parametrize("count", [2**31, 10**12])
def test_absurd_shape_in_manifest_is_refused_before_reading(good: Path, tmp_path: Path, count: int) -> None:
    def change(m: dict) -> None:
        t = m["tasks"]["ar"]
        t["count"] = count
        t["arrays"]["prototypes"]["shape"] = [count, t["dim"]]

    bad = rewrite_zip(good, tmp_path / "bad.zip", edit=_manifest_edit(change))
    tracemalloc.start()
    try:
        with pytest.raises(StoreError, match="count"):
            Backpack.open(bad).manifest_of(1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB
    print(f"\nmanifest claiming {count} rows: peak {peak / MiB:.2f} MiB (bound 8 MiB)")
    with pytest.raises(BackpackError):
        import_bundle(bad, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
