"""Full check of a store: every manifest, array checksum, FAISS index and tag."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backpack.errors import BackpackError
from backpack.store import _format as fmt
from backpack.store._arrays import read_array
from backpack.store._index import deserialize

if TYPE_CHECKING:
    from backpack.store.store import Backpack


def verify_store(bp: Backpack, versions: list[int | str] | None = None) -> list[str]:
    """Check ``versions`` (default: all) of ``bp``; return one line per problem (empty: all good).

    Data shared by several versions is read once. Unknown requested versions raise
    :class:`~backpack.errors.NotFoundError` (that is bad input, not a damaged store).
    """
    numbers = bp.versions() if versions is None else [bp.resolve(v) for v in versions]
    problems: list[str] = []
    checked: dict[tuple[str, str, str], str | None] = {}
    for number in numbers:
        try:
            manifest = bp.manifest_of(number)
        except BackpackError as exc:
            problems.append(f"version {number}: {exc}")
            continue
        if manifest.verbs != bp.verbs or manifest.nouns != bp.nouns:
            problems.append(f"version {number}: vocabulary differs from {fmt.ROOT_KEY}")
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
        if name is None:
            continue
        try:
            target = bp._read_tag(name)
        except BackpackError as exc:
            problems.append(f"tag {name!r}: {exc}")
            continue
        if not bp.backend.exists(fmt.version_key(target)):
            problems.append(f"tag {name!r}: names version {target}, which does not exist")
    return problems


def _check_array(bp: Backpack, entry: object, array_name: str, where: str) -> str | None:
    try:
        data = read_array(bp.backend, entry.path, array_name, entry.arrays[array_name], "{where}")  # type: ignore[attr-defined]
        if array_name == "index":
            deserialize(data, entry.index, entry.dim, entry.count, "{where}")  # type: ignore[attr-defined]
    except BackpackError as exc:
        return str(exc)
    return None
