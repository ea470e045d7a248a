"""A zarr ``Store`` over any :class:`~backpack.store.backends.base.Backend`, rooted at a key prefix.

So a new backend only implements whole-key reads/writes and listing; zarr reads and writes
its arrays through them. Calls are synchronous inside zarr's event loop thread, which is fine
for the few, large keys of a backpack store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from zarr.abc.store import ByteRequest, Store
from zarr.core.buffer.core import default_buffer_prototype
from zarr.storage._utils import _normalize_byte_range_index

from backpack.errors import NotFoundError

if TYPE_CHECKING:
    from zarr.core.buffer import Buffer, BufferPrototype

    from backpack.store.backends.base import Backend


class BackendZarrStore(Store):
    """zarr store view of ``backend`` under ``prefix`` (``""`` for the root)."""

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True
    supports_partial_writes: bool = False

    def __init__(self, backend: Backend, prefix: str, *, read_only: bool = True) -> None:
        super().__init__(read_only=read_only)
        self.backend = backend
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def with_read_only(self, read_only: bool = False) -> BackendZarrStore:
        return type(self)(self.backend, self.prefix, read_only=read_only)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BackendZarrStore)
            and other.backend is self.backend
            and other.prefix == self.prefix
            and other.read_only == self.read_only
        )

    def __str__(self) -> str:
        return f"{self.backend.url}/{self.prefix}"

    async def get(
        self, key: str, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        prototype = prototype or default_buffer_prototype()
        try:
            data = await asyncio.to_thread(self.backend.read, self._key(key))
        except NotFoundError:
            return None
        buf = prototype.buffer.from_bytes(data)
        if byte_range is None:
            return buf
        start, stop = _normalize_byte_range_index(buf, byte_range)
        return buf[start:stop]

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return [await self.get(k, prototype, r) for k, r in key_ranges]

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.backend.exists, self._key(key))

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()
        await asyncio.to_thread(self.backend.write, self._key(key), value.to_bytes())

    async def delete(self, key: str) -> None:
        self._check_writable()
        await asyncio.to_thread(self.backend.delete, self._key(key))

    async def set_partial_values(self, key_start_values: Iterable[tuple[str, int, bytes]]) -> None:
        raise NotImplementedError("partial writes are not supported")

    async def list(self) -> AsyncIterator[str]:
        async for key in self.list_prefix(""):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        root = f"{self.prefix}/" if self.prefix else ""
        for key in await asyncio.to_thread(self.backend.list, root + prefix):
            yield key[len(root) :]

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        head = f"{prefix}/" if prefix else ""
        seen: set[str] = set()
        async for key in self.list_prefix(head):
            child = key[len(head) :].split("/", 1)[0]
            if child not in seen:
                seen.add(child)
                yield child
