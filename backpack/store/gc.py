"""Unreferenced data: list it (``verify`` shows it) and remove it (``backpack gc``).

A killed writer leaves a data group no manifest refers to, temp files (``.tmp-*``) and, for an
import, a temp directory next to the store. None of it is ever read. A writer *still running*
looks the same, so only entries whose newest file is older than a grace period are removed;
keys a manifest refers to are never touched, and a store with an unreadable manifest is not
collected at all (what it refers to is unknown).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backpack.errors import BackpackError, StoreError
from backpack.store import _format as fmt
from backpack.store.backends.local import TMP_MARK

if TYPE_CHECKING:
    from backpack.store.store import Backpack

GRACE_S = 3600.0  # a writer slower than this between its first byte and its manifest is not expected


@dataclass(frozen=True)
class Orphan:
    """Unreferenced data: a data group (``data/<task>-<hex>/``) or a temp file or directory."""

    key: str
    kind: str  # "data", "temp" or "import-temp"
    bytes: int
    age_s: float | None  # since its newest file was written; None: unknown (object stores)

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
    """Unreferenced data groups and temp leftovers of ``bp``'s store, oldest first."""
    referenced = referenced_paths(bp)
    backend = bp.backend
    groups: dict[str, list[str]] = {}
    for key in backend.list(fmt.DATA_PREFIX):
        parts = key.split("/")
        if len(parts) >= 3:
            groups.setdefault(f"{parts[0]}/{parts[1]}/", []).append(key)
    now = time.time()
    out = []
    for prefix, keys in sorted(groups.items()):
        if prefix in referenced:
            continue
        times = [backend.modified(k) for k in keys]
        age = None if any(t is None for t in times) else now - max(t for t in times if t is not None)
        out.append(Orphan(prefix, "data", sum(backend.size(k) for k in keys), age))
    root = backend.local_path()
    if root is not None:
        out += _local_temps(root, now)
    return sorted(out, key=lambda o: -(o.age_s or 0.0))


def _tree(path: Path) -> tuple[int, float]:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    stats = [p.lstat() for p in files] or [path.lstat()]
    return sum(s.st_size for s in stats), max(s.st_mtime for s in stats)


def _local_temps(root: Path, now: float) -> list[Orphan]:
    out = []
    if root.is_dir():
        for path in root.rglob(f"{TMP_MARK}*"):
            if any(p.name.startswith(TMP_MARK) for p in path.relative_to(root).parents if p.name):
                continue  # inside a temp directory already listed
            size, mtime = _tree(path)
            out.append(Orphan(path.relative_to(root).as_posix(), "temp", size, now - mtime))
    for path in root.parent.glob(f".{root.name}.tmp-*"):  # import_bundle's unpack directory
        size, mtime = _tree(path)
        out.append(Orphan(f"../{path.name}", "import-temp", size, now - mtime))
    return out


def collect_garbage(bp: Backpack, grace_s: float = GRACE_S, dry_run: bool = True) -> list[Orphan]:
    """Remove (or with ``dry_run`` only list) the orphans older than ``grace_s`` seconds.

    Returns
    -------
    list of Orphan
        What was (or would be) removed.
    """
    if grace_s < 0:
        raise BackpackError(f"Invalid value for 'grace_s' in gc. Expected >= 0. Got {grace_s}.")
    doomed = [o for o in find_orphans(bp) if o.removable(grace_s)]
    if dry_run:
        return doomed
    backend = bp.backend
    backend._check_writable("collect garbage")
    again = referenced_paths(bp)  # a version published since the listing may refer to a group
    root = backend.local_path()
    removed = []
    for orphan in doomed:
        if orphan.kind == "data":
            if orphan.key in again:
                continue
            for key in backend.list(orphan.key):
                backend.delete(key)
        elif root is not None:
            path = (root / orphan.key).resolve()
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        removed.append(orphan)
    return removed
