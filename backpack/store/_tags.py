"""Tags: small JSON files ``tags/<name>.json`` naming a version (``latest`` is virtual)."""

from __future__ import annotations

from backpack.errors import ConflictError, NotFoundError, StoreError, invalid
from backpack.store import _format as fmt
from backpack.store.backends.base import Backend


def list_tags(backend: Backend) -> dict[str, int]:
    """Tag name -> version."""
    out: dict[str, int] = {}
    for key in backend.list(fmt.TAGS_PREFIX):
        name = fmt.parse_tag_key(key)
        if name is not None:
            out[name] = read_tag(backend, name)
    return out


def read_tag(backend: Backend, name: str) -> int:
    """The version tag ``name`` names; unknown tags list the known ones."""
    where = f"tag {name!r} of store {backend.url!r}"
    try:
        obj = fmt.loads(backend.read(fmt.tag_key(name)), where)
    except NotFoundError:
        raise NotFoundError(
            f"Unknown tag {name!r} in store {backend.url!r}. Known tags: {sorted(list_tags(backend))}."
        ) from None
    v = obj.get("version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise StoreError(invalid("version", where, "an integer >= 1", repr(v)))
    return v


def set_tag(backend: Backend, name: str, number: int, force: bool) -> int:
    """Create tag ``name`` -> ``number`` exclusively, or replace it atomically with ``force``."""
    data = fmt.dumps({"version": number, "created_at": fmt.utc_now()})
    if force:
        backend.write(fmt.tag_key(name), data)
        return number
    try:
        backend.create_exclusive(fmt.tag_key(name), data)
    except ConflictError:
        current = read_tag(backend, name)
        if current != number:  # re-tagging the same version is a no-op, not a conflict
            raise ConflictError(
                f"Tag {name!r} already names version {current} in store {backend.url!r}; "
                f"pass force=True to move it to {number}."
            ) from None
    return number


def delete_tag(backend: Backend, name: str) -> None:
    """Delete tag ``name``; unknown tags raise NotFoundError listing the known ones."""
    read_tag(backend, name)
    backend.delete(fmt.tag_key(name))
