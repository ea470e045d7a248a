"""Full check of a store: every manifest and its chain to the parent, array checksum, FAISS
index and tag; plus the listing of unreferenced data (orphans) that :mod:`.gc` may remove."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backpack.errors import BackpackError, NotFoundError
from backpack.store import _format as fmt
from backpack.store import _tags as tags
from backpack.store._arrays import read_array
from backpack.store._index import deserialize

if TYPE_CHECKING:
    from backpack.store.manifest import Manifest
    from backpack.store.store import Backpack


def verify_store(bp: Backpack, versions: list[int | str] | None = None) -> list[str]:
    """Check ``versions`` (default: all) of ``bp``; return one line per problem (empty: all good).

    Data shared by several versions is read once. Unknown requested versions raise
    :class:`~backpack.errors.NotFoundError` (that is bad input, not a damaged store). A tag
    deleted while this runs is not damage; a manifest that vanishes is.
    """
    everything = versions is None
    head = _read_head(bp)  # before listing: head.json is written after its manifest exists
    listed = bp.versions()
    numbers = listed if versions is None else [bp.resolve(v) for v in versions]
    pruned = _pruned(bp)
    problems: list[str] = []
    if everything:
        problems += _chain_gaps(listed, head, pruned)
    checked: dict[tuple[str, str, str], str | None] = {}
    for number in numbers:
        try:
            manifest = bp.manifest_of(number)
        except BackpackError as exc:
            problems.append(f"version {number}: {exc}")
            continue
        if manifest.verbs != bp.verbs or manifest.nouns != bp.nouns:
            problems.append(f"version {number}: vocabulary differs from {fmt.ROOT_KEY}")
        problems += _check_parent(bp, manifest, pruned)
        if head is not None and head[0] == number and head[1] not in (None, manifest.sha256):
            problems.append(f"version {number}: its manifest changed since it was published ({fmt.HEAD_KEY})")
        for name, entry in manifest.tasks.items():
            where = f"version {number}, task {name!r}"
            for array_name, array_entry in entry.arrays.items():
                key = (entry.path, array_name, array_entry.sha256)
                if key not in checked:
                    checked[key] = _check_array(bp, entry, array_name, where)
                if checked[key] is not None:
                    problems.append(checked[key].replace("{where}", where))  # type: ignore[union-attr]
    for key in bp.backend.list(fmt.TAGS_PREFIX):
        name = fmt.parse_tag_key(key)
        if name is not None:
            problems += _check_tag(bp, name)
    return problems


def _read_head(bp: Backpack) -> tuple[int, str | None] | None:
    try:
        return fmt.read_head(bp.backend)
    except BackpackError:
        return None  # a damaged hint is not a damaged version; the chain check still runs


def _pruned(bp: Backpack) -> set[int]:
    """Versions a partial bundle left out on purpose (``pruned.json``), else none."""
    try:
        obj = fmt.loads(bp.backend.read(fmt.PRUNED_KEY), f"{fmt.PRUNED_KEY} of store {bp.url!r}")
    except (NotFoundError, BackpackError):
        return set()
    values = obj.get("versions")
    return {v for v in values if isinstance(v, int)} if isinstance(values, list) else set()


def _chain_gaps(listed: list[int], head: tuple[int, str | None] | None, pruned: set[int]) -> list[str]:
    """Versions are numbered 1, 2, ... without gaps: a missing number is a deleted manifest."""
    problems = []
    top = max([*listed, head[0] if head else 0])
    present = set(listed)
    for number in range(1, top + 1):
        if number not in present and number not in pruned:
            what = "the latest version" if head and number == head[0] else "a version"
            problems.append(
                f"version {number}: its manifest is missing ({what}; versions are numbered 1..{top})"
            )
    return problems


def _check_parent(bp: Backpack, manifest: Manifest, pruned: set[int]) -> list[str]:
    parent = manifest.parent
    if parent is None or parent in pruned:
        return []
    try:
        parent_sha = bp.manifest_sha256(parent)
    except NotFoundError:
        return [f"version {manifest.version}: its parent version {parent} is missing"]
    except BackpackError:
        return []  # reported on the parent's own line
    if manifest.parent_sha256 is not None and manifest.parent_sha256 != parent_sha:
        return [
            f"version {manifest.version}: its parent version {parent} changed since it was published "
            f"(parent_sha256 {manifest.parent_sha256[:12]}..., now {parent_sha[:12]}...)"
        ]
    return []


def _check_tag(bp: Backpack, name: str) -> list[str]:
    try:
        target, sha = tags.read_tag_record(bp.backend, name)
    except NotFoundError:
        return []  # deleted since the listing: gone, not damaged
    except BackpackError as exc:
        return [f"tag {name!r}: {exc}"]
    if not bp.backend.exists(fmt.version_key(target)):
        return [f"tag {name!r}: names version {target}, which does not exist"]
    try:
        now = bp.manifest_sha256(target)
    except BackpackError:
        return []  # reported on the version's own line
    if sha is not None and sha != now:
        return [f"tag {name!r}: version {target}'s manifest changed since the tag was set"]
    return []


def _check_array(bp: Backpack, entry: object, array_name: str, where: str) -> str | None:
    try:
        data = read_array(bp.backend, entry.path, array_name, entry.arrays[array_name], "{where}")  # type: ignore[attr-defined]
        if array_name == "index":
            deserialize(data, entry.index, entry.dim, entry.count, "{where}")  # type: ignore[attr-defined]
    except BackpackError as exc:
        return str(exc)
    return None
