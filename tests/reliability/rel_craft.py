"""Crafting hostile bundles and stores from a valid one (used by the hostile-input tests)."""

from __future__ import annotations

import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from backpack.store._arrays import sha256_of
from tests.reliability.rel_common import new_store, publish


def valid_bundle(tmp: Path, name: str = "good.zip") -> Path:
    """A verified bundle with versions 1-2 (seeds 1, 2) and tag ``stable`` -> 1."""
    src = tmp / f"src-{Path(name).stem}"
    bp = new_store(src)
    publish(bp, 2)
    bp.tag("stable", 1)
    return bp.export(tmp / name)


def rewrite_zip(
    src: Path,
    dst: Path,
    edit: Callable[[str, bytes], bytes | None] | None = None,
    extra: list[tuple[zipfile.ZipInfo | str, bytes]] = (),
    method: int = zipfile.ZIP_STORED,
) -> Path:
    """Copy ``src`` to ``dst``; ``edit(name, data)`` returns new bytes or ``None`` to drop the entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", allowZip64=True) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            new = data if edit is None else edit(info.filename, data)
            if new is not None:
                zout.writestr(info.filename, new, compress_type=method)
        for entry, data in extra:
            zout.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    return dst


def symlink_info(name: str) -> zipfile.ZipInfo:
    """A zip entry marked as a symbolic link (its data is the link target)."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def edit_manifest(store: Path, version: int, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to the parsed manifest of ``version`` and write it back in place, with its
    checksum recomputed (a hostile writer can do that: the checks behind it are under test)."""
    from tests.store.store_data import resign

    path = store / "versions" / f"{version:08d}.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(resign(manifest)))


def chunk_files(store: Path, version: int, task: str, array: str) -> list[Path]:
    """The chunk files of one array of one task."""
    manifest = json.loads((store / "versions" / f"{version:08d}.json").read_text())
    base = store / manifest["tasks"][task]["path"] / array / "c"
    return sorted(p for p in base.rglob("*") if p.is_file())


def sha_of_bytes(data: bytes) -> str:
    return sha256_of(np.frombuffer(data, dtype=np.uint8))
