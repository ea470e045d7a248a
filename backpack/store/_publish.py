"""The writing half of :class:`~backpack.store.Backpack`: publish versions, retry on a stale
parent, move tags.

Kept apart from the reading handle (store.py) because every method here goes through the
backend's write checks and the store's one commit point (the exclusive create of
``versions/<n>.json``, see transaction.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from backpack.store import _format as fmt
from backpack.store import _tags as tags

if TYPE_CHECKING:
    from backpack.store.backends.base import Backend
    from backpack.store.taskview import TaskView
    from backpack.store.transaction import VersionWriter


class PublishingMixin:
    """New versions (:meth:`new_version`, :meth:`update`) and tags (:meth:`tag`, :meth:`delete_tag`)."""

    _backend: Backend
    _version: int | None
    _views: dict[str, TaskView]

    if TYPE_CHECKING:  # provided by Backpack

        def resolve(self, version: int | str | None) -> int: ...

        def manifest_sha256(self, version: int | str) -> str: ...

    # -- tags ---------------------------------------------------------------------------------
    def tag(self, name: str, version: int | str = "latest", force: bool = False) -> int:
        """Point tag ``name`` at ``version``; moving an existing tag needs ``force=True``.

        Returns
        -------
        int
            The version the tag now names.
        """
        fmt.check_tag_name(name)
        self._backend._check_writable(f"tag {name!r}")
        number = self.resolve(version)
        return tags.set_tag(self._backend, name, number, force, self.manifest_sha256(number))

    def delete_tag(self, name: str) -> None:
        """Delete tag ``name`` (the version it named stays)."""
        self._backend._check_writable(f"delete tag {name!r}")
        tags.delete_tag(self._backend, name)

    # -- writing ------------------------------------------------------------------------------
    def new_version(
        self, message: str = "", parent: int | str | None = None, provenance: dict[str, Any] | None = None
    ) -> VersionWriter:
        """Start a version: ``with bp.new_version(message=...) as v: v.add_task(...)``.

        ``parent=None`` starts from the latest version when this is called (if any); pass a
        number or tag to start from another. The new version keeps every task of the parent
        that is not replaced or removed, by reference (no rewrite). After the commit this handle
        reads the new version.
        """
        from backpack.store.transaction import VersionWriter

        self._backend._check_writable("publish a version")
        return VersionWriter(self, message=message, parent=parent, provenance=provenance)

    def update(
        self,
        build: Callable[[VersionWriter], Any],
        message: str = "",
        provenance: dict[str, Any] | None = None,
        retries: int = 100,
    ) -> int:
        """Publish a version made by ``build(writer)`` on top of the latest, retrying on conflicts.

        When another writer publishes first, the attempt's data is deleted, the new latest is
        read again and ``build`` runs again on it, so no writer's changes are lost.

        Parameters
        ----------
        build : callable
            Called with a fresh :class:`~backpack.store.transaction.VersionWriter` per attempt
            (``v.add_task(...)``, ``v.remove_task(...)``); it must not commit.
        retries : int
            Attempts after the first before :class:`~backpack.errors.StaleParentError` is raised.

        Returns
        -------
        int
            The published version number.
        """
        from backpack.store.transaction import update_with_retry

        return update_with_retry(self, build, message, provenance, retries)

    def _published(self, version: int) -> None:
        self._version = version
        self._views.clear()
        fmt.advance_head(self._backend, version, self.manifest_sha256(version))
