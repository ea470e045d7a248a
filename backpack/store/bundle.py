"""One-file exchange: export a store to a zip bundle, import (safely unpack) a bundle.

A bundle's entries are the store's keys, so ``Backpack.open("x.zip")`` reads it in place. Import
treats the zip as hostile: entry names that escape, symlinks, duplicate names, sizes above a
bound or far above the compressed size (zip bombs), and truncated or corrupted entries are
refused with a :class:`~backpack.errors.BundleError` naming the entry; checksums are verified
before the unpacked store is published (renamed into place).
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backpack.errors import BackpackError, BundleError, ConflictError, IntegrityError
from backpack.store import _format as fmt
from backpack.store.backends.base import check_key

if TYPE_CHECKING:
    from backpack.store.store import Backpack

MAX_TOTAL_BYTES = 2**37  # 128 GiB unpacked, unless the caller says otherwise
MAX_RATIO = 200  # uncompressed / compressed: our data is floats and zstd'd ints, never near this
_RATIO_FLOOR = 2**20  # small entries (JSON) may compress better than MAX_RATIO
_COPY = 4 * 2**20


def export_bundle(
    source: Backpack | str | Path,
    dest: str | Path,
    versions: list[int | str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a store (or only ``versions`` and the tags naming them) as one zip file.

    The source is verified first (a bundle never carries damaged data) and the zip is written
    to a temp file, then renamed, so ``dest`` is never half-written.
    """
    from backpack.store.store import Backpack

    if not isinstance(source, Backpack):
        with Backpack.open(source) as bp:
            return export_bundle(bp, dest, versions, overwrite)
    bp = source
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise ConflictError(f"Bundle {str(dest)!r} already exists; pass overwrite=True to replace it.")
    numbers = bp.versions() if versions is None else sorted({bp.resolve(v) for v in versions})
    problems = bp.verify(numbers)
    if problems:
        raise IntegrityError(
            f"Cannot export store {bp.url!r}: {len(problems)} problem(s): " + "; ".join(problems[:5])
        )
    backend = bp.backend
    keys = [fmt.ROOT_KEY]
    paths = sorted({t.path for n in numbers for t in bp.manifest_of(n).tasks.values()})
    for path in paths:
        keys += backend.list(path)
    keys += [fmt.version_key(n) for n in numbers]
    keys += [fmt.tag_key(t) for t, v in sorted(bp.tags().items()) if v in numbers]
    # Versions left out on purpose, so that verify does not read them as deleted manifests.
    pruned = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))
    tmp = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex}")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            if pruned:
                info = zipfile.ZipInfo(fmt.PRUNED_KEY, date_time=(1980, 1, 1, 0, 0, 0))
                zf.writestr(info, fmt.dumps({"versions": pruned}), compress_type=zipfile.ZIP_DEFLATED)
            for key in keys:
                kind = zipfile.ZIP_DEFLATED if key.endswith(".json") else zipfile.ZIP_STORED
                zf.writestr(
                    zipfile.ZipInfo(key, date_time=(1980, 1, 1, 0, 0, 0)),
                    backend.read(key),
                    compress_type=kind,
                )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def check_entries(
    zf: zipfile.ZipFile, bundle: str, max_total_bytes: int, require_root: bool = True
) -> list[zipfile.ZipInfo]:
    """The file entries of a bundle, refusing unsafe names, symlinks, duplicates and zip bombs
    (both for import and for reading in place)."""
    seen: set[str] = set()
    total = 0
    files = []
    for info in zf.infolist():
        name = info.filename
        where = f"entry {name!r} of bundle {bundle!r}"
        if not name or "\x00" in name:  # zipfile cuts names at NUL: an empty name is hostile
            raise BundleError(f"Unsafe {where}: empty name or NUL byte. Expected a relative key.")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\\" in name:
            raise BundleError(f"Unsafe {where}: absolute path. Expected a relative key.")
        if ".." in name.split("/"):
            raise BundleError(f"Unsafe {where}: '..' escapes the bundle root. Expected a relative key.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BundleError(f"Unsafe {where}: a symbolic link. Expected regular files only.")
        if info.is_dir():
            continue
        try:
            check_key(name)
        except BackpackError:
            raise BundleError(f"Unsafe {where}: not a plain relative key.") from None
        if name in seen:
            raise BundleError(f"Duplicate {where}. Expected each key once.")
        seen.add(name)
        total += info.file_size
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise BundleError(
                f"Suspicious {where}: {info.file_size} bytes from {info.compress_size} compressed "
                f"(ratio above {MAX_RATIO}, a zip bomb?)."
            )
        if total > max_total_bytes:
            raise BundleError(f"Bundle {bundle!r} unpacks to more than {max_total_bytes} bytes (at {where}).")
        files.append(info)
    if require_root and fmt.ROOT_KEY not in seen:
        raise BundleError(f"Bundle {bundle!r} is not a backpack bundle: it has no {fmt.ROOT_KEY!r}.")
    return files


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path, bundle: str) -> None:
    target = root / info.filename
    if root.resolve() not in target.resolve().parents:  # belt and braces after the name checks
        raise BundleError(f"Unsafe entry {info.filename!r} of bundle {bundle!r}: escapes the root.")
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with zf.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(_COPY):
                written += len(chunk)
                if written > info.file_size:  # the header lied: stop before filling the disk
                    raise BundleError(
                        f"Entry {info.filename!r} of bundle {bundle!r} is larger than declared."
                    )
                out.write(chunk)
    except BackpackError:
        raise
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, OSError: all "damaged"
        raise BundleError(
            f"Entry {info.filename!r} of bundle {bundle!r} is truncated or corrupted: {exc}."
        ) from None
    if written != info.file_size:
        raise BundleError(
            f"Entry {info.filename!r} of bundle {bundle!r} is truncated. Expected {info.file_size} bytes. "
            f"Got {written}."
        )


def import_bundle(
    bundle: str | Path,
    dest: str | Path,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    storage_options: dict[str, Any] | None = None,
) -> Backpack:
    """Unpack ``bundle`` into a new store at ``dest`` (a directory that does not exist or is empty).

    Unpacks into a temp directory next to ``dest``, verifies every checksum, then renames it
    into place; on any failure nothing appears at ``dest``.

    Returns
    -------
    Backpack
        A read-only handle on the imported store (latest version).
    """
    from backpack.store.store import Backpack

    dest_s = str(dest)
    if "://" in dest_s and not dest_s.startswith("file://"):
        return _import_remote(bundle, dest_s, max_total_bytes, storage_options)
    dest = Path(dest_s.removeprefix("file://"))
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConflictError(f"Cannot import into {str(dest)!r}: it exists and is not an empty directory.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex}"
    try:
        _unpack_verified(bundle, tmp, max_total_bytes)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.rename(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return Backpack.open(dest)


def _unpack_verified(bundle: str | Path, tmp: Path, max_total_bytes: int) -> None:
    from backpack.store.store import Backpack

    bundle_s = str(bundle)
    try:
        zf = zipfile.ZipFile(bundle_s, "r")
    except FileNotFoundError:
        raise BundleError(f"No bundle at {bundle_s!r}.") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"Bundle {bundle_s!r} is truncated or not a zip file: {exc}.") from None
    with zf:
        files = check_entries(zf, bundle_s, max_total_bytes)
        tmp.mkdir(parents=True)
        for info in files:
            _extract(zf, info, tmp, bundle_s)
    with Backpack.open(tmp) as bp:
        problems = bp.verify()
    if problems:
        raise IntegrityError(f"Bundle {bundle_s!r} failed verification: " + "; ".join(problems[:5]))


def _import_remote(
    bundle: str | Path, dest: str, max_total_bytes: int, storage_options: dict[str, Any] | None
) -> Backpack:
    """Import into object storage: verify locally, then data, manifests (exclusive) and tags."""
    import tempfile

    from backpack.store.backends.base import open_backend
    from backpack.store.store import Backpack

    with tempfile.TemporaryDirectory(prefix="backpack-import-") as work:
        tmp = Path(work) / "store"
        _unpack_verified(bundle, tmp, max_total_bytes)
        keys = sorted(str(p.relative_to(tmp).as_posix()) for p in tmp.rglob("*") if p.is_file())
        with open_backend(dest, "a", storage_options) as target:
            if target.exists(fmt.ROOT_KEY):
                raise ConflictError(f"Cannot import into {dest!r}: a store already exists there.")
            ordered = [k for k in keys if k.startswith(fmt.DATA_PREFIX)]
            ordered += [k for k in keys if k.startswith(fmt.VERSIONS_PREFIX)]
            ordered += [k for k in keys if k.startswith(fmt.TAGS_PREFIX)]
            for key in ordered:
                data = (tmp / key).read_bytes()
                if key.startswith(fmt.VERSIONS_PREFIX):
                    target.create_exclusive(key, data)
                else:
                    target.write(key, data)
            # The root goes last: until it exists the destination is not a store at all.
            target.create_exclusive(fmt.ROOT_KEY, (tmp / fmt.ROOT_KEY).read_bytes())
    return Backpack.open(dest, storage_options=storage_options)
