"""Publishing a version: data first (fresh prefixes), then the manifest by exclusive create.

A crash before the manifest leaves only unreferenced data (never listed, harmless). A writer
publishes only on top of the version that was latest when it started: the number it creates is
that version + 1, so the exclusive create is a compare-and-swap on ``latest``. Losing it (another
writer published first) raises :class:`~backpack.errors.StaleParentError` and deletes this
writer's data, because publishing anyway would silently drop the other writer's changes (a lost
update). :meth:`Backpack.update` retries such a build on the new latest.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from backpack.errors import BackpackError, ConflictError, NotFoundError, StaleParentError, StoreError, invalid
from backpack.store import _format as fmt
from backpack.store import _validate as val
from backpack.store._arrays import write_group
from backpack.store._index import build_index, normalize, serialize
from backpack.store.manifest import Manifest, Provenance, TaskEntry

if TYPE_CHECKING:
    from backpack.store.store import Backpack


class VersionWriter:
    """A version being written; publish with ``commit()`` or by leaving the ``with`` block.

    Attributes
    ----------
    version : int or None
        The published number (``None`` until committed).
    parent : int or None
        The version this one starts from.
    base : int or None
        The latest version when this writer started: it publishes ``base + 1`` or not at all.
    """

    def __init__(
        self, bp: Backpack, message: str, parent: int | str | None, provenance: dict[str, Any] | None
    ) -> None:
        if not isinstance(message, str):
            raise BackpackError(invalid("message", "new_version", "a string", type(message).__name__))
        try:  # checked before any data is written (a bad argv byte arrives as a lone surrogate)
            message.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = message.encode("utf-8", "backslashreplace")[max(exc.start - 10, 0) : exc.end + 10]
            raise BackpackError(invalid("message", "new_version", "valid UTF-8 text", repr(bad))) from None
        from backpack import __version__

        prov = dict(provenance or {})
        prov.setdefault("backpack_version", __version__)
        self._provenance = Provenance.from_dict(prov, "new_version(provenance=...)")
        self._bp = bp
        self.message = message
        self.base = bp.latest()
        self.parent = self.base if parent is None else bp.resolve(parent)
        self._tasks: dict[str, TaskEntry] = (
            dict(bp.manifest_of(self.parent).tasks) if self.parent is not None else {}
        )
        self._fresh: set[str] = set()
        self._written: list[str] = []
        self.version: int | None = None
        self._done = False

    @property
    def task_names(self) -> list[str]:
        """Tasks the version will hold (inherited, added, minus removed)."""
        return list(self._tasks)

    def add_task(
        self,
        name: str,
        prototypes: Any,
        keys: Any,
        support: Any,
        index: str = "auto",
        index_params: dict[str, Any] | None = None,
        dim: int | None = None,
    ) -> TaskEntry:
        """Add task ``name`` (or replace the parent's); its data is written now, under a fresh prefix.

        Parameters
        ----------
        name : str
        prototypes : array-like [P, D] float (numpy or torch)
        keys : array-like [P, 2] int, (verb id, noun id), distinct, inside the vocabulary
        support : array-like [P] int >= 1
        index : {"auto", "flat", "ivf", "hnsw"}
        index_params : dict, optional
            ``nlist``/``nprobe`` (ivf), ``M``/``efConstruction``/``efSearch`` (hnsw), ``recall_target``.
        dim : int, optional
            The dimension the caller expects (checked, so a wrong feature size fails loudly).
        """
        self._check_open()
        fmt.check_task_name(name)
        where = f"task {name!r}"
        protos = val.check_prototypes(prototypes, where)
        count, got_dim = protos.shape
        if dim is not None and got_dim != dim:
            raise BackpackError(invalid("dim", where, dim, got_dim))
        dim = got_dim
        keys_a = val.check_keys(keys, count, len(self._bp.verbs), len(self._bp.nouns), where)
        support_a = val.check_support(support, count, where)
        faiss_index, spec = build_index(normalize(protos), index, index_params, where)
        prefix = f"{fmt.DATA_PREFIX}{name}-{uuid.uuid4().hex}"
        self._written.append(prefix)
        arrays = {"prototypes": protos, "keys": keys_a, "support": support_a, "index": serialize(faiss_index)}
        entries = write_group(self._bp.backend, prefix, arrays, {"backpack_task": name})
        self._bp.backend.flush(prefix)
        if name in self._fresh:  # added twice in this version: the first copy is garbage now
            self._delete_group(self._tasks[name].path)
        entry = TaskEntry(name, dim, count, prefix + "/", entries, spec)
        self._tasks[name] = entry
        self._fresh.add(name)
        return entry

    def remove_task(self, name: str) -> None:
        """Drop task ``name`` (inherited from the parent) from this version."""
        self._check_open()
        if name not in self._tasks:
            raise NotFoundError(
                f"Unknown task {name!r} in the new version. Known tasks: {sorted(self._tasks)}."
            )
        entry = self._tasks.pop(name)
        if name in self._fresh:
            self._fresh.discard(name)
            self._delete_group(entry.path)

    def commit(self) -> int:
        """Publish: the manifest is created exclusively as ``base + 1``; returns that number.

        Raises
        ------
        StaleParentError
            Another writer published since this one started; this writer's data is deleted.
            Retry on the new latest (:meth:`Backpack.update` does it for you).
        """
        self._check_open()
        if not self._tasks:
            raise StoreError("Cannot publish an empty version: add at least one task.")
        backend = self._bp.backend
        number = (self.base or 0) + 1
        latest = self._bp.latest()
        if latest != self.base:
            self._stale(latest)
        tasks = {n: replace(t, written_in=number) if n in self._fresh else t for n, t in self._tasks.items()}
        parent_sha = self._bp.manifest_sha256(self.parent) if self.parent is not None else None
        manifest = Manifest(
            number,
            self.parent,
            _utc(),
            self.message,
            tasks,
            self._bp.verbs,
            self._bp.nouns,
            self._provenance,
            parent_sha256=parent_sha,
        )
        payload = fmt.dumps(manifest.to_dict())
        try:
            backend.create_exclusive(fmt.version_key(number), payload)
        except ConflictError:
            self._stale(number)
        except BaseException as exc:
            if not self._published_anyway(fmt.version_key(number), payload):
                wrapped = _as_store_error(exc, self._bp.url, number)
                if wrapped is exc:
                    raise
                raise wrapped from exc
        self._done = True
        self.version = number
        self._bp._manifests[number] = Manifest.from_dict(fmt.loads(payload, "new manifest"), "new manifest")
        self._bp._published(number)
        return number

    def _stale(self, latest: int | None) -> None:
        self.abort()
        raise StaleParentError(
            f"Cannot publish to store {self._bp.url!r}: version {latest} was published while this "
            f"version was being built on top of version {self.base}, and publishing anyway would drop "
            "its changes. Rebuild on the latest version (Backpack.update retries for you)."
        )

    def _published_anyway(self, key: str, payload: bytes) -> bool:
        """After a failed create: did our manifest land anyway (e.g. a lost reply)? If it surely
        did not, delete our data; if we cannot tell, leave it (unreferenced data is harmless,
        deleting data a published manifest refers to is not)."""
        try:
            there = self._bp.backend.read(key)
        except NotFoundError:
            self.abort()
            return False
        except Exception:  # noqa: BLE001 -- cannot tell: keep the data
            self._done = True
            return False
        if there == payload:
            return True
        self.abort()  # another writer's manifest: ours was never written
        return False

    def abort(self) -> None:
        """Give up: delete the data written so far (best effort; leftovers are never listed)."""
        self._done = True
        for prefix in self._written:
            self._delete_group(prefix)

    def _delete_group(self, prefix: str) -> None:
        """Delete an unpublished group of this writer (never one a manifest may refer to)."""
        backend = self._bp.backend
        if not backend.supports_deletes:
            return
        try:
            for key in backend.list(prefix.rstrip("/") + "/"):
                backend.delete(key)
        except Exception:  # noqa: BLE001 -- orphans are harmless; never mask the original error
            pass

    def _check_open(self) -> None:
        if self._done:
            raise StoreError("This version was already published or aborted; start a new one.")

    def __enter__(self) -> VersionWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self._done:
            return
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def update_with_retry(
    bp: Backpack,
    build: Callable[[VersionWriter], Any],
    message: str,
    provenance: dict[str, Any] | None,
    retries: int,
) -> int:
    """:meth:`Backpack.update`: run ``build`` on a writer on the latest, again on each conflict."""
    for attempt in range(retries + 1):
        writer = bp.new_version(message=message, provenance=provenance)
        try:
            build(writer)
            return writer.commit()
        except StaleParentError:
            if attempt == retries:
                raise
            time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))  # jitter: let the winner finish
        except BaseException:
            writer.abort()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _utc() -> str:
    from backpack.store.store import utc_now

    return utc_now()


def _as_store_error(exc: BaseException, url: str, number: int) -> BaseException:
    """Object-store client errors (botocore: not OSError) as a StoreError naming the store."""
    from backpack.store._arrays import _is_io_error

    if isinstance(exc, Exception) and not isinstance(exc, (BackpackError, OSError)) and _is_io_error(exc):
        return StoreError(f"Cannot publish version {number} to store {url!r}: {type(exc).__name__}: {exc}.")
    return exc
