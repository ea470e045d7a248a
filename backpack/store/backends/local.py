"""A store in a local directory: one file per key.

Replaces go through a temp file + ``os.replace``; the exclusive create (the commit of a version)
writes a temp file and then ``os.link``s it to the final name, which fails if the name exists, so
a reader sees either no file or the whole file, and two writers can never both win.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backpack._io import TMP_MARK, atomic_write
from backpack.errors import ConflictError, NotFoundError, StoreError
from backpack.store.backends.base import Backend, check_key

if TYPE_CHECKING:
    from zarr.abc.store import Store as ZarrStore

# Temp files start with TMP_MARK and are never listed (a killed writer may leave some behind).


def _tree(path: Path) -> tuple[int, float]:
    """Total bytes and newest mtime of a file or of every file below a directory."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    stats = [p.lstat() for p in files] or [path.lstat()]
    return sum(s.st_size for s in stats), max(s.st_mtime for s in stats)


class LocalBackend(Backend):
    """Keys as files under a directory.

    Parameters
    ----------
    url : str
        The directory (need not exist yet for writes).
    read_only : bool
        Refuse writes.
    storage_options : dict, optional
        Unused (accepted for a uniform factory signature).
    """

    def __init__(
        self, url: str, read_only: bool = True, storage_options: dict[str, Any] | None = None
    ) -> None:
        super().__init__(url, read_only)
        self.root = Path(url).expanduser()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFoundError(f"No key {key!r} in store {self.url!r}.") from None

    def write(self, key: str, data: bytes) -> None:
        self._check_writable(f"write {key!r}")
        path = self._path(key)
        # not durable here: a version's groups are fsynced once, when the version is flushed
        atomic_write(path, data, durable=False)

    def create_exclusive(self, key: str, data: bytes) -> None:
        self._check_writable(f"create {key!r}")
        path = self._path(key)
        try:  # durable: the commit record must not be empty after a power loss
            atomic_write(path, data, exclusive=True)
        except FileExistsError:
            raise ConflictError(
                f"Key {key!r} already exists in store {self.url!r} (another writer took it)."
            ) from None

    def delete(self, key: str) -> None:
        self._check_writable(f"delete {key!r}")
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[str]:
        base = self.root
        if not base.is_dir():
            return []
        # Walk only the directory part of the prefix (versions/ and tags/ are small).
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = base / head if head else base
        if not start.is_dir():
            return []
        keys: list[str] = []

        def unreadable(exc: OSError) -> None:  # an unreadable folder is not an empty one
            raise StoreError(
                f"Cannot list {exc.filename or str(start)!r} in store {self.url!r}: "
                f"{exc.strerror or exc} (errno {errno.errorcode.get(exc.errno or 0, exc.errno)})."
            )

        for dirpath, dirnames, filenames in os.walk(start, onerror=unreadable):
            dirnames[:] = [d for d in dirnames if not d.startswith(TMP_MARK)]
            rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
            for name in filenames:
                if name.startswith(TMP_MARK) or name.endswith(".partial"):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise NotFoundError(f"No key {key!r} in store {self.url!r}.") from None

    def modified(self, key: str) -> float | None:
        try:
            return self._path(key).stat().st_mtime
        except FileNotFoundError:
            raise NotFoundError(f"No key {key!r} in store {self.url!r}.") from None

    def flush(self, prefix: str) -> None:
        """fsync the files and directories of a freshly written group (a power loss must not
        leave a published manifest pointing at data still in the page cache)."""
        base = self.root / check_key(prefix.rstrip("/"))
        for dirpath, _dirs, files in os.walk(base):
            for name in files + ["."]:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def zarr_store(self, prefix: str, read_only: bool) -> ZarrStore:
        from zarr.storage import LocalStore

        return LocalStore(self.root / check_key(prefix.rstrip("/")), read_only=read_only or self.read_only)

    def local_path(self) -> Path | None:
        return self.root

    def _import_temps(self) -> list[Path]:
        # import_bundle unpacks into a private `.<store>.tmp-<hex>` folder next to the store
        return list(self.root.parent.glob(f".{self.root.name}{TMP_MARK}*"))

    def leftovers(self) -> list[tuple[str, str, int, float]]:
        out = []
        if self.root.is_dir():
            for path in self.root.rglob(f"{TMP_MARK}*"):
                rel = path.relative_to(self.root)
                if any(p.name.startswith(TMP_MARK) for p in rel.parents if p.name):
                    continue  # inside a temp directory already listed
                out.append((rel.as_posix(), "temp", *_tree(path)))
        for path in self._import_temps():
            out.append((f"../{path.name}", "import-temp", *_tree(path)))
        return out

    def remove_leftover(self, key: str) -> None:
        self._check_writable(f"remove {key!r}")
        if key.startswith("../"):
            path = self.root.parent / key[3:]
            ok = path in self._import_temps()
        else:
            path = self._path(key)
            ok = path.name.startswith(TMP_MARK)
        if not ok:  # only what leftovers() lists: never a key a manifest could refer to
            raise StoreError(
                f"Refusing to remove {key!r} from store {self.url!r}: it is not a temp leftover."
            )
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
