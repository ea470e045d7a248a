"""Zip bundles: export, open in place, and a careful import that refuses hostile zips."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

from backpack.errors import BundleError, ConflictError, IntegrityError, ReadOnlyError
from backpack.store import Backpack, export_bundle, import_bundle
from tests.store.store_data import NOUNS, VERBS, add, make_task


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    bp = Backpack.create(tmp_path / "src", verbs=VERBS, nouns=NOUNS)
    with bp.new_version() as v:
        add(v, "ar", make_task(1))
    bp.tag("v1", 1)
    return export_bundle(bp, tmp_path / "b.zip")


def _rewrite(
    src: Path, dest: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]] = (), skip: str = ""
) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            if info.filename != skip:
                zout.writestr(info, zin.read(info))
        for name, data in extra:
            zout.writestr(name, data)
    return dest


def test_import_round_trip(bundle: Path, tmp_path: Path) -> None:
    bp = import_bundle(bundle, tmp_path / "dest")
    assert bp.versions() == [1] and bp.tags() == {"v1": 1} and bp.verify() == []
    np.testing.assert_array_equal(bp.task("ar").prototypes, make_task(1).prototypes)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_import_into_empty_dir(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert import_bundle(bundle, tmp_path / "empty").versions() == [1]


def test_import_refuses_existing_store(bundle: Path, tmp_path: Path) -> None:
    import_bundle(bundle, tmp_path / "dest")
    with pytest.raises(ConflictError, match="not an empty directory"):
        import_bundle(bundle, tmp_path / "dest")
    assert Backpack.open(tmp_path / "dest").verify() == []


def test_export_refuses_to_overwrite(bundle: Path, tmp_path: Path) -> None:
    before = bundle.read_bytes()
    with pytest.raises(ConflictError, match="already exists"):
        export_bundle(tmp_path / "src", bundle)
    assert bundle.read_bytes() == before
    export_bundle(tmp_path / "src", bundle, overwrite=True)
    assert Backpack.open(bundle).versions() == [1]


def test_export_is_deterministic(bundle: Path, tmp_path: Path) -> None:
    again = export_bundle(tmp_path / "src", tmp_path / "again.zip")
    assert again.read_bytes() == bundle.read_bytes()


def test_bundle_is_read_only(bundle: Path) -> None:
    with pytest.raises(ReadOnlyError, match="written once"):
        Backpack.open(bundle, mode="a")


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("../evil.txt", "'..' escapes"),
        ("/etc/evil", "absolute path"),
        ("data/../../x", "'..' escapes"),
        ("C:/x", "absolute path"),
        ("a\\..\\b", "absolute path"),
    ],
)
def test_entries_escaping_root(bundle: Path, tmp_path: Path, name: str, match: str) -> None:
    bad = _rewrite(bundle, tmp_path / "bad.zip", [(name, b"x")])
    with pytest.raises(BundleError, match=f"{match}"):
        import_bundle(bad, tmp_path / "dest")
    assert not (tmp_path / "dest").exists() and not (tmp_path / "evil.txt").exists()


def test_symlink_entry(bundle: Path, tmp_path: Path) -> None:
    info = zipfile.ZipInfo("data/link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    bad = _rewrite(bundle, tmp_path / "bad.zip", [(info, b"/etc/passwd")])
    with pytest.raises(BundleError, match="'data/link'.*symbolic link"):
        import_bundle(bad, tmp_path / "dest")


def test_duplicate_entry(bundle: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        bad = _rewrite(bundle, tmp_path / "bad.zip", [("backpack.json", b"{}")])
    with pytest.raises(BundleError, match="Duplicate entry 'backpack.json'"):
        import_bundle(bad, tmp_path / "dest")


def test_zip_bomb_ratio(bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bomb.zip"
    _rewrite(bundle, bad)
    with zipfile.ZipFile(bad, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/bomb", b"\0" * (50 * 2**20))
    with pytest.raises(BundleError, match="'data/bomb'.*zip bomb"):
        import_bundle(bad, tmp_path / "dest")


def test_total_size_bound(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="unpacks to more than 1000 bytes"):
        import_bundle(bundle, tmp_path / "dest", max_total_bytes=1000)


def test_lying_size_header(bundle: Path, tmp_path: Path) -> None:
    """An entry whose local data is longer than its declared size is stopped, not written out."""
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo("backpack.json")
    # patch the central directory's uncompressed size of backpack.json down to 10 bytes
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        name_len = int.from_bytes(data[pos + 28 : pos + 30], "little")
        if bytes(data[pos + 46 : pos + 46 + name_len]) == b"backpack.json":
            data[pos + 24 : pos + 28] = (10).to_bytes(4, "little")
            break
        pos += 4
    bad = tmp_path / "lying.zip"
    bad.write_bytes(bytes(data))
    assert info.file_size > 10
    with pytest.raises(BundleError, match="'backpack.json'.*(larger than declared|truncated or corrupted)"):
        import_bundle(bad, tmp_path / "dest")


def test_truncated_bundle(bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "trunc.zip"
    bad.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    with pytest.raises(BundleError, match="truncated or not a zip"):
        import_bundle(bad, tmp_path / "dest")
    with pytest.raises(BundleError, match="truncated"):
        Backpack.open(bad)
    assert not (tmp_path / "dest").exists()


def test_corrupted_entry_named(bundle: Path, tmp_path: Path) -> None:
    """A flipped byte inside an entry's data (CRC mismatch) names that entry."""
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo("versions/00000001.json")
    data = bytearray(bundle.read_bytes())
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start + 5] ^= 0xFF
    bad = tmp_path / "flip.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="'versions/00000001.json'"):
        import_bundle(bad, tmp_path / "dest")


def test_checksums_verified_before_publish(bundle: Path, tmp_path: Path) -> None:
    """A bundle whose zip is intact but whose arrays disagree with the manifest never appears."""
    with zipfile.ZipFile(bundle) as zf:
        key = next(n for n in zf.namelist() if n.endswith("support/c/0"))
        chunk = bytearray(zf.read(key))
    chunk[0] ^= 1
    bad = _rewrite(bundle, tmp_path / "bad.zip", [(key, bytes(chunk))], skip=key)
    with pytest.raises(IntegrityError, match="array 'support'"):
        import_bundle(bad, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_not_a_backpack_bundle(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(BundleError, match="not a backpack bundle"):
        import_bundle(tmp_path / "other.zip", tmp_path / "dest")


def test_import_into_object_storage(bundle: Path, tmp_path: Path) -> None:
    """Import to a URL backend (here the test memory backend): verified, root written last."""
    import uuid

    url = f"mem://{uuid.uuid4().hex}"
    bp = import_bundle(bundle, url)
    assert bp.versions() == [1] and bp.tags() == {"v1": 1} and bp.verify() == []
    np.testing.assert_array_equal(bp.task("ar").prototypes, make_task(1).prototypes)
    with pytest.raises(ConflictError, match="already exists"):
        import_bundle(bundle, url)


def test_nul_in_entry_name(bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "nul.zip"
    bad.write_bytes(bundle.read_bytes().replace(b"backpack.json", b"\x00ackpack.json"))
    with pytest.raises(BundleError, match="empty name or NUL"):
        import_bundle(bad, tmp_path / "dest")
    with pytest.raises(BundleError, match="empty name or NUL"):  # in place: the same checks
        Backpack.open(bad)
