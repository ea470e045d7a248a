"""The :class:`Backpack` handle: open or create a store, list versions and tags, read tasks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from backpack.errors import (
    BackpackError,
    ConflictError,
    NotAStoreError,
    NotFoundError,
    StoreError,
    invalid,
)
from backpack.store import _format as fmt
from backpack.store import _tags as tags
from backpack.store._format import check_vocabulary, utc_now
from backpack.store._publish import PublishingMixin
from backpack.store.backends.base import Backend, open_backend
from backpack.store.manifest import Manifest

if TYPE_CHECKING:
    from backpack.store.taskview import TaskView


class Backpack(PublishingMixin):
    """A versioned store of task prototypes (see docs/store-format.md).

    Use :meth:`create` or :meth:`open`; a handle reads one version (``.version``) and, opened
    with ``mode="a"``, publishes new ones with :meth:`new_version` or :meth:`update` and moves
    tags (those methods live in :class:`~backpack.store._publish.PublishingMixin`).

    Examples
    --------
    >>> bp = Backpack.create("store/", verbs=["take", "put"], nouns=["cup"])  # doctest: +SKIP
    >>> with bp.new_version(message="first") as v:                           # doctest: +SKIP
    ...     v.add_task("ar", prototypes, keys, support)
    >>> Backpack.open("store/").task("ar").search(queries, k=4)              # doctest: +SKIP
    """

    def __init__(self, backend: Backend, root: dict[str, Any], version: int | None) -> None:
        self._backend = backend
        self._root = root
        vocab = root["vocabulary"]
        self._verbs = tuple(vocab["verbs"])
        self._nouns = tuple(vocab["nouns"])
        self._version = version
        self._manifests: dict[int, Manifest] = {}
        self._views: dict[str, TaskView] = {}

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def create(
        cls, path: str | Path, verbs: Any, nouns: Any, storage_options: dict[str, Any] | None = None
    ) -> Backpack:
        """Create an empty store at ``path`` and return a writable handle.

        Raises
        ------
        ConflictError
            If ``path`` already holds a store.
        """
        verbs, nouns = check_vocabulary(verbs, "verbs"), check_vocabulary(nouns, "nouns")
        backend = open_backend(path, "a", storage_options)
        root = {
            "format": fmt.FORMAT_NAME,
            "format_version": fmt.FORMAT_VERSION,
            "created_at": utc_now(),
            "vocabulary": {"verbs": list(verbs), "nouns": list(nouns)},
        }
        try:
            backend.create_exclusive(fmt.ROOT_KEY, fmt.dumps(root))
        except ConflictError:
            backend.close()
            raise ConflictError(
                f"A store already exists at {str(path)!r}; open it with Backpack.open()."
            ) from None
        return cls(backend, root, None)

    @classmethod
    def open(
        cls,
        path: str | Path,
        version: int | str | None = None,
        mode: str = "r",
        storage_options: dict[str, Any] | None = None,
    ) -> Backpack:
        """Open a store (directory, ``.zip`` bundle or ``s3://``) at ``version`` (default: latest).

        Parameters
        ----------
        path : str or Path
        version : int, str or None
            A version number, a tag name, ``"latest"`` or ``None`` (latest; ``None`` on an empty store).
        mode : {"r", "a"}
            ``"r"`` read-only (default), ``"a"`` may publish versions and move tags.
        storage_options : dict, optional
            For the backend (s3fs options).
        """
        backend = open_backend(path, mode, storage_options)
        try:
            try:
                raw = backend.read(fmt.ROOT_KEY)
            except NotFoundError:
                raise NotAStoreError(
                    f"{str(path)!r} is not a backpack store: it has no {fmt.ROOT_KEY!r}. "
                    "Create one with Backpack.create()."
                ) from None
            root = fmt.loads(raw, f"{fmt.ROOT_KEY} of {str(path)!r}")
            where = f"{fmt.ROOT_KEY} of {str(path)!r}"
            fmt.check_format(root, where)
            vocab = root.get("vocabulary")
            if not isinstance(vocab, dict) or not all(
                isinstance(vocab.get(k), list) for k in ("verbs", "nouns")
            ):
                raise StoreError(
                    invalid("vocabulary", where, "{'verbs': [...], 'nouns': [...]}", repr(vocab)[:80])
                )
            bp = cls(backend, root, None)
            bp._version = bp.resolve(version) if version is not None else bp.latest()
            return bp
        except BaseException:
            backend.close()
            raise

    def at(self, version: int | str | None) -> Backpack:
        """Another handle on the same store at ``version`` (shares the backend and caches)."""
        other = Backpack(self._backend, self._root, None)
        other._manifests = self._manifests
        other._version = self.resolve(version) if version is not None else self.latest()
        return other

    # -- properties ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Where the store lives, as given to open/create."""
        return self._backend.url

    @property
    def backend(self) -> Backend:
        """The key/value backend (local directory, zip bundle, S3 ...)."""
        return self._backend

    @property
    def read_only(self) -> bool:
        """Whether this handle refuses writes (``mode="r"`` or a bundle)."""
        return self._backend.read_only

    @property
    def version(self) -> int | None:
        """The version this handle reads (``None`` for a store without versions)."""
        return self._version

    @property
    def verbs(self) -> tuple[str, ...]:
        """Verb names of the store's vocabulary (key column 0 indexes it)."""
        return self._verbs

    @property
    def nouns(self) -> tuple[str, ...]:
        """Noun names of the store's vocabulary (key column 1 indexes it)."""
        return self._nouns

    @property
    def manifest(self) -> Manifest:
        """The manifest of :attr:`version`."""
        if self._version is None:
            raise NotFoundError(f"Store {self.url!r} has no versions yet; publish one with new_version().")
        return self.manifest_of(self._version)

    @property
    def task_names(self) -> list[str]:
        """Tasks of :attr:`version`, in manifest order (empty without versions)."""
        return [] if self._version is None else list(self.manifest.tasks)

    # -- versions and tags --------------------------------------------------------------------
    def versions(self) -> list[int]:
        """Published version numbers, ascending."""
        found = (fmt.parse_version_key(k) for k in self._backend.list(fmt.VERSIONS_PREFIX))
        return sorted(v for v in found if v is not None)

    def latest(self) -> int | None:
        """The highest published version (what ``latest`` names), or ``None``."""
        versions = self.versions()
        return versions[-1] if versions else None

    def tags(self) -> dict[str, int]:
        """Tag name -> version."""
        return tags.list_tags(self._backend)

    def _read_tag(self, name: str) -> int:
        return tags.read_tag(self._backend, name)

    def resolve(self, version: int | str | None) -> int:
        """A version number from a number, a tag, ``"latest"`` or a digit string."""
        if version is None or version == "latest":
            latest = self.latest()
            if latest is None:
                raise NotFoundError(f"Store {self.url!r} has no versions yet, so 'latest' names nothing.")
            return latest
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        if isinstance(version, int) and not isinstance(version, bool):
            if version < 1 or not self._backend.exists(fmt.version_key(version)):
                raise NotFoundError(
                    f"Unknown version {version} in store {self.url!r}. Known versions: "
                    f"{fmt.span(self.versions())}."
                )
            return version
        if isinstance(version, str):
            return self._read_tag(version)
        raise BackpackError(
            invalid("version", f"store {self.url!r}", "an int, a tag name or 'latest'", repr(version))
        )

    def manifest_of(self, version: int | str) -> Manifest:
        """The (parsed, checked) manifest of a version."""
        number = version if isinstance(version, int) and version in self._manifests else self.resolve(version)
        cached = self._manifests.get(number)
        if cached is not None:
            return cached
        where = f"manifest of version {number} in store {self.url!r}"
        manifest = Manifest.from_dict(fmt.loads(self._backend.read(fmt.version_key(number)), where), where)
        if manifest.version != number:
            raise StoreError(invalid("version", where, number, manifest.version))
        self._manifests[number] = manifest
        return manifest

    def manifest_sha256(self, version: int | str) -> str:
        """The content checksum of a version's manifest (what a child's ``parent_sha256`` holds)."""
        digest = self.manifest_of(version).sha256
        assert digest is not None  # from_dict always sets it
        return digest

    # -- tasks --------------------------------------------------------------------------------
    def task(self, name: str) -> TaskView:
        """The task ``name`` of this version (arrays are read and verified lazily)."""
        from backpack.store.taskview import TaskView

        view = self._views.get(name)
        if view is not None and view.version == self._version:
            return view
        tasks = self.manifest.tasks
        if name not in tasks:
            raise NotFoundError(
                f"Unknown task {name!r} in version {self._version} of store {self.url!r}. "
                f"Known tasks: {sorted(tasks)}."
            )
        view = TaskView(self, tasks[name], self._version)
        self._views[name] = view
        return view

    # -- checks and exchange ------------------------------------------------------------------
    def verify(self, versions: list[int | str] | None = None) -> list[str]:
        """Check every array of ``versions`` (default: all) against its checksum.

        Returns
        -------
        list of str
            One line per problem, naming the version, task and array; empty when all is well.
        """
        from backpack.store.verify import verify_store

        return verify_store(self, versions)

    def orphans(self) -> list[Any]:
        """Unreferenced data and temp leftovers (see :mod:`backpack.store.gc`); harmless, never read."""
        from backpack.store.gc import find_orphans

        return find_orphans(self)

    def export(self, path: str | Path, versions: list[int | str] | None = None) -> Path:
        """Write the store (or some versions) to one zip bundle; see :func:`export_bundle`."""
        from backpack.store.bundle import export_bundle

        return export_bundle(self, path, versions=versions)

    def close(self) -> None:
        """Release the backend (files, connections)."""
        self._backend.close()

    def __enter__(self) -> Backpack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Backpack({self.url!r}, version={self._version}, mode={'r' if self.read_only else 'a'!r})"
