"""Unreferenced data: list it (``verify`` shows it) and remove it (``backpack gc``).

A killed writer leaves a data group no manifest refers to, temp files (``.tmp-*``) and, for an
import, a temp directory next to the store. None of it is ever read. A writer *still running*
looks the same, so only entries whose newest file is older than a grace period are removed;
keys a manifest refers to are never touched, and a store with an unreadable manifest is not
collected at all (what it refers to is unknown).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from backpack.errors import BackpackError, ReadOnlyError, StoreError
from backpack.store import _format as fmt

if TYPE_CHECKING:
    from backpack.store.store import Backpack

GRACE_S = 3600.0  # a writer slower than this between its first byte and its manifest is not expected


@dataclass(frozen=True)
class Orphan:
    """Unreferenced data: a data group (``data/<task>-<hex>/``) or a temp file or directory."""

    key: str
    kind: str  # "data", "temp" or "import-temp"
    bytes: int
    age_s: float | None  # since its newest file was written; None: the backend cannot tell

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def removable(self, grace_s: float) -> bool:
        """Old enough that no writer can still be filling it."""
        return self.age_s is not None and self.age_s >= grace_s


def referenced_paths(bp: Backpack) -> set[str]:
    """Every data group some manifest refers to; raises if a manifest cannot be read."""
    paths: set[str] = set()
    for number in bp.versions():
        try:
            manifest = bp.manifest_of(number)
        except BackpackError as exc:
            raise StoreError(
                f"Cannot tell which data of store {bp.url!r} is referenced: version {number}: {exc}"
            ) from None
        paths |= {t.path.rstrip("/") + "/" for t in manifest.tasks.values()}
    return paths


def find_orphans(bp: Backpack) -> list[Orphan]:
    """Unreferenced data groups and temp leftovers of ``bp``'s store, oldest first.

    Works on every backend through its interface: data groups from :meth:`Backend.stat_all`
    (sizes and times of one listing), temp leftovers from :meth:`Backend.leftovers`.
    """
    referenced = referenced_paths(bp)
    backend = bp.backend
    groups: dict[str, list[tuple[int, float | None]]] = {}
    for key, stat in backend.stat_all(fmt.DATA_PREFIX).items():
        parts = key.split("/")
        if len(parts) >= 3:
            groups.setdefault(f"{parts[0]}/{parts[1]}/", []).append(stat)
    now = time.time()
    out = []
    for prefix, stats in sorted(groups.items()):
        if prefix in referenced:
            continue
        times = [t for _, t in stats]
        age = None if any(t is None for t in times) else now - max(t for t in times if t is not None)
        out.append(Orphan(prefix, "data", sum(n for n, _ in stats), age))
    out += [Orphan(key, kind, size, now - mtime) for key, kind, size, mtime in backend.leftovers()]
    return sorted(out, key=lambda o: -(o.age_s or 0.0))


def collect_garbage(bp: Backpack, grace_s: float = GRACE_S, dry_run: bool = True) -> list[Orphan]:
    """Remove (or with ``dry_run`` only list) the orphans older than ``grace_s`` seconds.

    Returns
    -------
    list of Orphan
        What was (or would be) removed.
    """
    if grace_s < 0:
        raise BackpackError(f"Invalid value for 'grace_s' in gc. Expected >= 0. Got {grace_s}.")
    backend = bp.backend
    if not backend.supports_deletes:
        raise ReadOnlyError(
            f"Cannot collect garbage in {bp.url!r}: it is a read-only bundle, written once, with "
            "nothing to remove. Use import_bundle() to unpack it into a directory, then collect there."
        )
    doomed = [o for o in find_orphans(bp) if o.removable(grace_s)]
    if dry_run:
        return doomed
    backend._check_writable("collect garbage")
    again = referenced_paths(bp)  # a version published since the listing may refer to a group
    removed = []
    for orphan in doomed:
        if orphan.kind == "data":
            if orphan.key in again:
                continue
            for key in backend.list(orphan.key):
                backend.delete(key)
        else:
            backend.remove_leftover(orphan.key)
        removed.append(orphan)
    return removed
