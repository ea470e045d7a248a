"""Writing and reading the zarr group of one task, with sha256 checks.

Every array is hashed over its raw C-order little-endian bytes when written; on read the zarr
metadata is compared with the manifest *before* any chunk is read (so a manifest or ``zarr.json``
claiming absurd sizes allocates nothing), and the bytes are hashed before anyone uses them.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from backpack.errors import BackpackError, IntegrityError, NotFoundError, StoreError
from backpack.store.manifest import ArrayEntry

if TYPE_CHECKING:
    from backpack.store.backends.base import Backend

_CHUNK_BYTES = 8 * 2**20  # whole rows per chunk, about 8 MiB: few keys, parallel reads


def sha256_of(array: np.ndarray) -> str:
    """sha256 of the raw C-order little-endian bytes of ``array``."""
    a = np.ascontiguousarray(array)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return hashlib.sha256(memoryview(a).cast("B")).hexdigest()


def _chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    row = itemsize * (shape[1] if len(shape) > 1 else 1)
    rows = max(1, min(shape[0], _CHUNK_BYTES // row))
    return (rows,) + tuple(shape[1:])


def write_group(
    backend: Backend, prefix: str, arrays: dict[str, np.ndarray], attributes: dict
) -> dict[str, ArrayEntry]:
    """Write ``arrays`` as a zarr v3 group at ``prefix``; return their manifest entries.

    Network errors of object-store clients (botocore, aiohttp: not ``OSError``) become a
    :class:`~backpack.errors.StoreError` naming the store; ``OSError`` (disk full) passes through.
    """
    try:
        return _write_group_errors(backend, prefix, arrays, attributes)
    except BaseException:
        _drain_zarr_io()  # the caller deletes what was written: nothing may still be writing then
        raise


def _drain_zarr_io(timeout: float = 30.0) -> None:
    """Wait until the other tasks on zarr's event loop have ended.

    A failed chunk write (e.g. ENOSPC) reaches us while sibling chunk writes of the same array
    still run in zarr's I/O threads; a caller that deletes the unpublished group right away would
    otherwise race them and leave orphan chunks behind.
    """
    import asyncio

    from zarr.core.sync import sync

    async def others_done() -> None:
        me = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    try:
        sync(others_done())
    except Exception:  # noqa: BLE001 -- best effort: never mask the write's own error
        pass


def _write_group_errors(
    backend: Backend, prefix: str, arrays: dict[str, np.ndarray], attributes: dict
) -> dict[str, ArrayEntry]:
    try:
        return _write_group(backend, prefix, arrays, attributes)
    except (BackpackError, OSError):
        raise
    except Exception as exc:
        if _is_io_error(exc):
            raise StoreError(
                f"Cannot write task data {prefix!r} to store {backend.url!r}: {type(exc).__name__}: {exc}."
            ) from exc
        raise


def _write_group(
    backend: Backend, prefix: str, arrays: dict[str, np.ndarray], attributes: dict
) -> dict[str, ArrayEntry]:
    import zarr
    from zarr.codecs import Crc32cCodec, ZstdCodec

    store = backend.zarr_store(prefix, read_only=False)
    group = zarr.create_group(store, zarr_format=3, attributes=attributes, overwrite=False)
    entries: dict[str, ArrayEntry] = {}
    for name, data in arrays.items():
        data = np.ascontiguousarray(data)
        # Floats and FAISS bytes barely compress; a crc32c per chunk names a flipped byte early.
        codecs = [Crc32cCodec()] if data.dtype.kind in "fu" else [ZstdCodec(level=1), Crc32cCodec()]
        arr = group.create_array(
            name,
            shape=data.shape,
            dtype=data.dtype,
            chunks=_chunks(data.shape, data.dtype.itemsize),
            compressors=codecs,
            fill_value=0,
            # every chunk is stored, even all-zero ones: readers treat a missing chunk as damage
            config={"write_empty_chunks": True},
        )
        arr[...] = data
        entries[name] = ArrayEntry(tuple(int(s) for s in data.shape), str(data.dtype), sha256_of(data))
    return entries


def read_array(backend: Backend, prefix: str, name: str, entry: ArrayEntry, where: str) -> np.ndarray:
    """Read one array of a task group and check it against ``entry`` (shape, dtype, sha256).

    Raises
    ------
    IntegrityError
        Metadata that disagrees with the manifest, an unreadable chunk or a checksum mismatch;
        the message names ``where`` (version, task) and the array.
    """
    import zarr

    what = f"{where}, array {name!r}"
    store = backend.zarr_store(prefix, read_only=True)
    try:
        arr = zarr.open_array(store, path=name, mode="r", zarr_format=3)
    except (FileNotFoundError, NotFoundError, KeyError) as exc:
        raise IntegrityError(f"Missing data for {what}: {exc}.") from None
    except Exception as exc:  # a corrupt zarr.json: zarr raises many kinds
        raise IntegrityError(f"Unreadable metadata for {what}: {exc}.") from None
    if tuple(arr.shape) != entry.shape or str(arr.dtype) != entry.dtype:
        raise IntegrityError(
            f"Metadata mismatch for {what}. Expected {entry.shape} {entry.dtype}. Got {tuple(arr.shape)} "
            f"{arr.dtype}."
        )
    try:
        # zarr fills missing chunks with zeros: a claim without data must be refused before
        # the claimed array is allocated (one listing of the array's keys, no chunk read).
        expected = int(arr.nchunks)
        stored = sum(1 for k in backend.list(f"{prefix.rstrip('/')}/{name}/") if not k.endswith("/zarr.json"))
    except Exception as exc:
        raise _read_error(exc, what, backend) from None
    if stored < expected:
        raise IntegrityError(f"Missing chunks in {what}. Expected {expected}. Got {stored}.")
    _check_stored_bytes(backend, prefix, name, entry, arr, what)
    try:
        data = arr[...]
    except Exception as exc:  # zarr raises many kinds for a bad chunk (checksum, codec, size)
        raise _read_error(exc, what, backend) from None
    data = np.ascontiguousarray(data)
    digest = sha256_of(data)
    if digest != entry.sha256:
        raise IntegrityError(f"Checksum mismatch for {what}. Expected sha256 {entry.sha256}. Got {digest}.")
    return data


def _check_stored_bytes(
    backend: Backend, prefix: str, name: str, entry: ArrayEntry, arr: object, what: str
) -> None:
    """The bytes present must back the declared shape before zarr allocates it.

    Floats and FAISS bytes are stored uncompressed (+ a 4-byte crc32c per chunk), so their chunks
    hold exactly ``chunk elements x itemsize + 4`` bytes; a few junk bytes claiming a GiB are
    refused here. The zstd'd integer arrays (keys, support) may compress far, but their length
    is the task's row count, which the uncompressed prototypes beside them must prove (4 bytes per
    row at least), so they cannot claim more than a small multiple of the bytes present.
    """
    base = f"{prefix.rstrip('/')}/{name}/"
    try:
        if np.dtype(entry.dtype).kind in "fu":
            chunk = int(np.prod(arr.chunks)) * np.dtype(entry.dtype).itemsize + 4  # type: ignore[attr-defined]
            want = chunk * int(arr.nchunks)  # type: ignore[attr-defined]
            have = backend.disk_usage(base) - backend.size(base + "zarr.json")
        else:
            protos = f"{prefix.rstrip('/')}/prototypes/"
            want = 4 * entry.shape[0]
            have = backend.disk_usage(protos) - backend.size(protos + "zarr.json")
    except IntegrityError:
        raise
    except Exception as exc:
        raise _read_error(exc, what, backend) from None
    if (have != want) if np.dtype(entry.dtype).kind in "fu" else (have < want):
        raise IntegrityError(
            f"Stored bytes of {what} do not back its shape {entry.shape}. Expected "
            f"{'' if np.dtype(entry.dtype).kind in 'fu' else 'at least '}{want} bytes. Got {have}."
        )


def _is_io_error(exc: BaseException) -> bool:
    """Network or file-system trouble (not damaged bytes): botocore/aiohttp errors are not OSErrors."""
    module = type(exc).__module__.split(".")[0]
    return isinstance(exc, (OSError, ConnectionError, TimeoutError)) or module in _IO_MODULES


_IO_MODULES = {"botocore", "aiobotocore", "aiohttp", "s3fs", "fsspec", "urllib3", "requests"}


def _read_error(exc: BaseException, what: str, backend: Backend) -> Exception:
    if isinstance(exc, (IntegrityError, StoreError)):
        return exc
    if _is_io_error(exc):
        return StoreError(f"Cannot read {what} from store {backend.url!r}: {type(exc).__name__}: {exc}.")
    return IntegrityError(f"Corrupted chunk in {what}: {exc}.")
