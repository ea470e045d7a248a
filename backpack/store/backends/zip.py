"""A store packed in one zip file (a bundle): read-only, since a zip cannot delete or replace.

Bundles are written once by :func:`backpack.store.export_bundle`; entries are the store's keys.
Reading never extracts anything, so entry names cannot escape; :func:`import_bundle` does the
careful unpacking.
"""

from __future__ import annotations

import threading
import zipfile
from typing import Any

from backpack.errors import BundleError, NotFoundError, ReadOnlyError
from backpack.store.backends.base import Backend, check_key


class ZipBackend(Backend):
    """Keys as entries of a zip file, read-only.

    Parameters
    ----------
    url : str
        Path of the ``.zip`` file.
    read_only : bool
        Must be true: a bundle cannot be written in place.
    storage_options : dict, optional
        Unused.
    """

    def __init__(
        self, url: str, read_only: bool = True, storage_options: dict[str, Any] | None = None
    ) -> None:
        super().__init__(url, True)
        if not read_only:
            raise ReadOnlyError(
                f"Cannot open bundle {url!r} with mode='a': a zip bundle is written once. "
                "Use import_bundle() to unpack it into a directory, then publish there."
            )
        try:
            self._zip = zipfile.ZipFile(url, "r")
        except FileNotFoundError:
            raise NotFoundError(f"No bundle at {url!r}.") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"Bundle {url!r} is not a readable zip file (truncated?): {exc}.") from exc
        from backpack.store.bundle import MAX_TOTAL_BYTES, check_entries

        # The same checks as import_bundle (unsafe or duplicate names, symlinks, zip bombs, total
        # size), so that reading in place trusts no more than unpacking does.
        try:
            infos = check_entries(self._zip, url, MAX_TOTAL_BYTES, require_root=False)
        except BaseException:
            self._zip.close()
            raise
        self._infos = {i.filename: i for i in infos}
        self._lock = threading.Lock()  # zarr reads from several threads

    @property
    def supports_writes(self) -> bool:
        return False

    @property
    def supports_deletes(self) -> bool:
        return False

    def read(self, key: str) -> bytes:
        info = self._infos.get(check_key(key))
        if info is None:
            raise NotFoundError(f"No key {key!r} in bundle {self.url!r}.")
        try:
            with self._lock, self._zip.open(info) as f:
                data = f.read(info.file_size + 1)  # never more than declared (and checked) + 1
        except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError: a damaged entry
            raise BundleError(f"Entry {key!r} of bundle {self.url!r} cannot be read: {exc}.") from exc
        if len(data) != info.file_size:
            raise BundleError(
                f"Entry {key!r} of bundle {self.url!r} does not hold its declared size. "
                f"Expected {info.file_size} bytes. Got {'more' if len(data) > info.file_size else len(data)}."
            )
        return data

    def write(self, key: str, data: bytes) -> None:
        self._check_writable(f"write {key!r}")

    def create_exclusive(self, key: str, data: bytes) -> None:
        self._check_writable(f"create {key!r}")

    def delete(self, key: str) -> None:
        self._check_writable(f"delete {key!r}")

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self._infos if k.startswith(prefix))

    def exists(self, key: str) -> bool:
        return key in self._infos

    def size(self, key: str) -> int:
        info = self._infos.get(key)
        if info is None:
            raise NotFoundError(f"No key {key!r} in bundle {self.url!r}.")
        return info.compress_size

    def close(self) -> None:
        self._zip.close()
