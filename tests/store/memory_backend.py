"""An in-memory backend for the tests: proves a new backend needs only the key/value methods
(zarr goes through the generic adapter, ``Backend.zarr_store``)."""

from __future__ import annotations

import threading
from typing import Any

from backpack.errors import ConflictError, NotFoundError
from backpack.store.backends.base import Backend, check_key

_STORES: dict[str, dict[str, bytes]] = {}
_LOCK = threading.Lock()


class MemoryBackend(Backend):
    """Keys in a process-wide dict per URL (``mem://name``)."""

    def __init__(
        self, url: str, read_only: bool = True, storage_options: dict[str, Any] | None = None
    ) -> None:
        super().__init__(url, read_only)
        with _LOCK:
            self._data = _STORES.setdefault(url, {})

    def read(self, key: str) -> bytes:
        try:
            return self._data[check_key(key)]
        except KeyError:
            raise NotFoundError(f"No key {key!r} in store {self.url!r}.") from None

    def write(self, key: str, data: bytes) -> None:
        self._check_writable(f"write {key!r}")
        self._data[check_key(key)] = bytes(data)

    def create_exclusive(self, key: str, data: bytes) -> None:
        self._check_writable(f"create {key!r}")
        with _LOCK:
            if check_key(key) in self._data:
                raise ConflictError(f"Key {key!r} already exists in store {self.url!r}.")
            self._data[key] = bytes(data)

    def delete(self, key: str) -> None:
        self._check_writable(f"delete {key!r}")
        self._data.pop(key, None)

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in list(self._data) if k.startswith(prefix))
