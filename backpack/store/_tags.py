"""Tags: small JSON files ``tags/<name>.json`` naming a version (``latest`` is virtual)."""

from __future__ import annotations

from backpack.errors import ConflictError, IntegrityError, NotFoundError, StoreError, invalid
from backpack.store import _format as fmt
from backpack.store.backends.base import Backend


def list_tags(backend: Backend) -> dict[str, int]:
    """Tag name -> version."""
    out: dict[str, int] = {}
    for key in backend.list(fmt.TAGS_PREFIX):
        name = fmt.parse_tag_key(key)
        if name is None:
            continue
        try:
            out[name] = read_tag(backend, name)
        except NotFoundError:  # deleted between the listing and the read: it is just gone
            continue
    return out


def read_tag(backend: Backend, name: str) -> int:
    """The version tag ``name`` names; unknown tags list the known ones."""
    return read_tag_record(backend, name)[0]


def read_tag_record(backend: Backend, name: str) -> tuple[int, str | None]:
    """(version, sha256 of that version's manifest when the tag was set; ``None`` for old tags).

    Raises
    ------
    IntegrityError
        The tag file's own checksum does not match its content (it was edited).
    """
    from backpack.store.manifest import content_sha256

    where = f"tag {name!r} of store {backend.url!r}"
    try:
        obj = fmt.loads(backend.read(fmt.tag_key(name)), where)
    except NotFoundError:
        raise NotFoundError(
            f"Unknown tag {name!r} in store {backend.url!r}. Known tags: {sorted(list_tags(backend))}."
        ) from None
    stored = obj.get("sha256")
    if stored is not None and stored != content_sha256({k: v for k, v in obj.items() if k != "sha256"}):
        raise IntegrityError(f"Checksum mismatch for {where}: its content was changed after it was set.")
    v = obj.get("version")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise StoreError(invalid("version", where, "an integer >= 1", repr(v)))
    target = obj.get("manifest_sha256")
    return v, target if isinstance(target, str) else None


def set_tag(backend: Backend, name: str, number: int, force: bool, manifest_sha256: str | None = None) -> int:
    """Create tag ``name`` -> ``number`` exclusively, or replace it atomically with ``force``."""
    from backpack.store.manifest import content_sha256

    record = {"version": number, "created_at": fmt.utc_now(), "manifest_sha256": manifest_sha256}
    data = fmt.dumps({**record, "sha256": content_sha256(record)})
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
