"""A store on S3 (or any S3-compatible server) under ``s3://bucket/prefix``, through fsspec/s3fs.

Every PUT of S3 is atomic (a reader sees the old or the new object, never a part), so
:meth:`S3Backend.write` is a plain PUT. The commit point of a version, :meth:`create_exclusive`,
is a conditional PUT with ``If-None-Match: *``: the server refuses it (HTTP 412) when the key
exists, so of two writers racing for one version number exactly one wins. The zarr arrays go
through ``zarr.storage.FsspecStore`` on an asynchronous twin of the same filesystem.

Credentials and endpoint come from the usual AWS environment variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ...) unless ``storage_options`` gives them
(``endpoint_url``, ``key``, ``secret``, ``anon``, ``token``, any other s3fs option).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from backpack.errors import BackpackError, ConflictError, NotFoundError, StoreError, invalid
from backpack.store.backends.base import Backend, check_key

if TYPE_CHECKING:
    from zarr.abc.store import Store as ZarrStore

__all__ = ["S3Backend", "split_s3_url"]

_S3ZarrStore: type | None = None  # made on first use: zarr is imported lazily


def _io_errors() -> tuple[type[BaseException], ...]:
    """What a storage call raises when the server is unreachable or refuses: s3fs turns HTTP
    errors into OSError, but connection failures come through as botocore errors."""
    import asyncio

    from botocore.exceptions import BotoCoreError

    return (OSError, BotoCoreError, asyncio.TimeoutError)


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> (``bucket``, ``some/prefix``); the prefix may be empty."""
    if not isinstance(url, str) or not url.lower().startswith("s3://"):
        raise BackpackError(invalid("URL", "S3Backend", "'s3://bucket/prefix'", repr(url)))
    bucket, _, prefix = url[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    bad_prefix = False
    if prefix:
        try:
            check_key(prefix)
        except BackpackError:
            bad_prefix = True
    if not bucket or "@" in bucket or bad_prefix:
        raise BackpackError(
            invalid("URL", "S3Backend", "'s3://bucket/prefix' without '..' or '//'", repr(url))
        )
    return bucket, prefix


# fsspec's own options, on top of the named parameters of s3fs.S3FileSystem (which swallows
# unknown keywords silently: a typo like `endpoint=` would go unnoticed and reach AWS).
_FSSPEC_OPTIONS = {
    "use_listings_cache",
    "listings_expiry_time",
    "max_paths",
    "skip_instance_cache",
    "batch_size",
}


def _fs_options(storage_options: dict[str, Any] | None, url: str) -> dict[str, Any]:
    import inspect

    import s3fs

    opts = dict(storage_options or {})
    # asynchronous/loop are ours to set: this backend calls s3fs synchronously.
    internal = ("self", "kwargs", "asynchronous", "loop")
    known = {p for p in inspect.signature(s3fs.S3FileSystem.__init__).parameters if p not in internal}
    known |= _FSSPEC_OPTIONS
    unknown = sorted(set(opts) - known)
    if unknown:
        raise BackpackError(
            invalid("storage_options", f"store {url!r}", f"s3fs options, one of {sorted(known)}", unknown)
        )
    # Listings must be fresh: the version list decides the next number and what `latest` is.
    opts.setdefault("use_listings_cache", False)
    return opts


def io_error(exc: BaseException, action: str, key: str, url: str) -> BackpackError:
    """A storage error as a house error naming the action, the key and the store."""
    if isinstance(exc, PermissionError):
        return StoreError(
            f"Access denied (forbidden) when trying to {action} {key!r} in store {url!r}: {exc}."
        )
    return StoreError(f"Cannot {action} {key!r} in store {url!r}: {type(exc).__name__}: {exc}.")


def _mtime(info: dict[str, Any]) -> float | None:
    """An object's ``LastModified`` (a datetime from s3fs) as seconds since the epoch."""
    when = info.get("LastModified")
    return when.timestamp() if hasattr(when, "timestamp") else None


def _zarr_store_class() -> type:
    """``FsspecStore`` whose I/O errors (access denied, network) name the store and the key."""
    from zarr.storage import FsspecStore

    class S3ZarrStore(FsspecStore):
        store_url: str = ""  # the backpack store, for messages
        key_prefix: str = ""  # where this zarr store sits inside it

        def with_read_only(self, read_only: bool = False) -> S3ZarrStore:
            other = super().with_read_only(read_only)
            other.store_url, other.key_prefix = self.store_url, self.key_prefix
            return other

        def _error(self, exc: BaseException, action: str, key: str) -> BackpackError:
            return io_error(exc, action, f"{self.key_prefix}/{key}".strip("/"), self.store_url)

        async def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return await super().get(key, *args, **kwargs)
            except _io_errors() as exc:  # a missing key is not an error: FsspecStore returns None then
                raise self._error(exc, "read", key) from exc

        async def set(self, key: str, value: Any) -> None:
            try:
                await super().set(key, value)
            except _io_errors() as exc:
                raise self._error(exc, "write", key) from exc

        async def delete(self, key: str) -> None:
            try:
                await super().delete(key)
            except _io_errors() as exc:
                raise self._error(exc, "delete", key) from exc

    return S3ZarrStore


class S3Backend(Backend):
    """Keys as objects under ``s3://bucket/prefix/``.

    Parameters
    ----------
    url : str
        ``s3://bucket/prefix`` (the bucket must exist).
    read_only : bool
        Refuse writes.
    storage_options : dict, optional
        s3fs options, e.g. ``{"endpoint_url": "http://127.0.0.1:9000", "key": ..., "secret": ...}``
        or ``{"anon": True}``; by default taken from the AWS environment variables.
    """

    def __init__(
        self, url: str, read_only: bool = True, storage_options: dict[str, Any] | None = None
    ) -> None:
        super().__init__(url.rstrip("/"), read_only)
        self.bucket, self.prefix = split_s3_url(url)
        try:
            import s3fs
        except ModuleNotFoundError as exc:  # pragma: no cover - s3fs is in both lock files
            raise BackpackError(
                f"Cannot open {url!r}: the s3 backend needs {exc.name!r} (pip install 'backpack[s3]')."
            ) from exc
        self.storage_options = _fs_options(storage_options, url)
        try:
            self.fs = s3fs.S3FileSystem(**self.storage_options)
        except TypeError as exc:
            raise BackpackError(
                invalid(
                    "storage_options", f"store {url!r}", "options accepted by s3fs.S3FileSystem", str(exc)
                )
            ) from None
        self._root = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket

    # -- helpers ------------------------------------------------------------------------------
    def _path(self, key: str) -> str:
        return f"{self._root}/{check_key(key)}"

    def _wrap(self, exc: BaseException, action: str, key: str) -> BackpackError:
        """An s3fs/botocore error as a house error naming the store, the key and the action."""
        return io_error(exc, action, key, self.url)

    # -- key/value operations -----------------------------------------------------------------
    def read(self, key: str) -> bytes:
        try:
            return self.fs.cat_file(self._path(key))
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError(f"No key {key!r} in store {self.url!r}.") from None
        except _io_errors() as exc:
            raise self._wrap(exc, "read", key) from exc

    def write(self, key: str, data: bytes) -> None:
        self._check_writable(f"write {key!r}")
        try:
            self.fs.pipe_file(self._path(key), bytes(data))
        except FileNotFoundError:
            raise NotFoundError(f"Bucket {self.bucket!r} of store {self.url!r} does not exist.") from None
        except _io_errors() as exc:
            raise self._wrap(exc, "write", key) from exc

    def create_exclusive(self, key: str, data: bytes) -> None:
        self._check_writable(f"create {key!r}")
        try:
            # A conditional PUT (If-None-Match: *): the server answers 412 if the key exists.
            self.fs.pipe_file(self._path(key), bytes(data), mode="create")
        except FileExistsError:
            raise ConflictError(
                f"Key {key!r} already exists in store {self.url!r} (another writer took it)."
            ) from None
        except FileNotFoundError:
            raise NotFoundError(f"Bucket {self.bucket!r} of store {self.url!r} does not exist.") from None
        except _io_errors() as exc:
            raise self._wrap(exc, "create", key) from exc

    def delete(self, key: str) -> None:
        self._check_writable(f"delete {key!r}")
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            pass
        except _io_errors() as exc:
            raise self._wrap(exc, "delete", key) from exc

    def _find(self, prefix: str, detail: bool) -> dict[str, Any]:
        # List only below the directory part of the prefix, then filter on the rest.
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = f"{self._root}/{head}" if head else self._root
        try:
            self.fs.invalidate_cache(base)
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        except _io_errors() as exc:
            raise self._wrap(exc, "list", prefix) from exc
        cut = len(self._root) + 1
        out = {}
        for path, info in found.items():
            key = path[cut:]
            if key.startswith(prefix) and info.get("type", "file") == "file":
                out[key] = info if detail else None
        return out

    def list(self, prefix: str = "") -> list[str]:
        return sorted(self._find(prefix, detail=False))

    def exists(self, key: str) -> bool:
        # Not fs.isfile(): it answers False when the server cannot be reached.
        try:
            info = self.fs.info(self._path(key))
        except FileNotFoundError:
            return False
        except _io_errors() as exc:
            raise self._wrap(exc, "check", key) from exc
        return info.get("type") == "file"

    def _info(self, key: str) -> dict[str, Any]:
        """The object's HEAD (size, LastModified); a missing key or a "directory" is NotFoundError."""
        try:
            info = self.fs.info(self._path(key))
        except FileNotFoundError:
            info = {}
        except _io_errors() as exc:
            raise self._wrap(exc, "stat", key) from exc
        if info.get("type") != "file":
            raise NotFoundError(f"No key {key!r} in store {self.url!r}.")
        return info

    def size(self, key: str) -> int:
        return int(self._info(key)["size"])

    def modified(self, key: str) -> float | None:
        return _mtime(self._info(key))

    def stat_all(self, prefix: str) -> dict[str, tuple[int, float | None]]:
        # One listing (sizes and LastModified included) instead of two HEADs per key.
        return {k: (int(i.get("size", 0)), _mtime(i)) for k, i in self._find(prefix, detail=True).items()}

    def disk_usage(self, prefix: str) -> int:
        # One listing with sizes instead of one HEAD per key.
        return sum(int(info.get("size", 0)) for info in self._find(prefix, detail=True).values())

    def zarr_store(self, prefix: str, read_only: bool) -> ZarrStore:
        global _S3ZarrStore
        if _S3ZarrStore is None:
            _S3ZarrStore = _zarr_store_class()
        inner = prefix.strip("/")
        path = f"{self._root}/{check_key(inner)}" if inner else self._root
        store = _S3ZarrStore.from_url(
            f"s3://{path}", storage_options=dict(self.storage_options), read_only=read_only or self.read_only
        )
        store.store_url, store.key_prefix = self.url, inner
        return store

    def close(self) -> None:
        # s3fs keeps one shared, cached client per option set; nothing per handle to release.
        return None
