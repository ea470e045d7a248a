"""What changed between two versions (or two stores): tasks, counts, prototype drift."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from backpack.store.store import Backpack


@dataclass(frozen=True)
class TaskDiff:
    """A task present in both sides.

    ``mean_drift`` is the mean of ``1 - cos(a, b)`` over prototypes with the same (verb, noun)
    key (``None`` when the dims differ or no key is shared); ``same_data`` means the arrays are
    byte-identical (e.g. a child version referencing its parent's data).
    """

    name: str
    count_a: int
    count_b: int
    dim_a: int
    dim_b: int
    same_data: bool
    common_keys: int
    keys_added: int
    keys_removed: int
    mean_drift: float | None

    @property
    def count_change(self) -> int:
        """``count_b - count_a``."""
        return self.count_b - self.count_a

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with ``count_change``)."""
        return dict(asdict(self), count_change=self.count_change)


@dataclass(frozen=True)
class StoreDiff:
    """Tasks added, removed, changed and unchanged going from ``a`` to ``b``."""

    version_a: int | None
    version_b: int | None
    added: list[str]
    removed: list[str]
    changed: list[TaskDiff]
    unchanged: list[str]

    @property
    def is_empty(self) -> bool:
        """Whether nothing was added, removed or changed."""
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "version_a": self.version_a,
            "version_b": self.version_b,
            "added": self.added,
            "removed": self.removed,
            "changed": [t.to_dict() for t in self.changed],
            "unchanged": self.unchanged,
        }


def diff(a: Backpack, b: Backpack) -> StoreDiff:
    """Compare the versions two handles read (use ``bp.at(v)`` for another version of one store).

    Examples
    --------
    >>> d = diff(bp.at(1), bp.at(2))  # doctest: +SKIP
    >>> d.added, [t.mean_drift for t in d.changed]  # doctest: +SKIP
    """
    names_a, names_b = set(a.task_names), set(b.task_names)
    changed, unchanged = [], []
    for name in sorted(names_a & names_b):
        td = _task_diff(a, b, name)
        (unchanged.append(name) if td is None else changed.append(td))
    return StoreDiff(
        a.version, b.version, sorted(names_b - names_a), sorted(names_a - names_b), changed, unchanged
    )


def _task_diff(a: Backpack, b: Backpack, name: str) -> TaskDiff | None:
    ea, eb = a.manifest.tasks[name], b.manifest.tasks[name]
    same = all(ea.arrays[k].sha256 == eb.arrays[k].sha256 for k in ("prototypes", "keys", "support"))
    if same and ea.index.type == eb.index.type:
        return None
    ta, tb = a.task(name), b.task(name)
    # Keys map through names, so two stores with different vocabularies still compare.
    names_a = {kn: i for i, kn in enumerate(ta.key_names())}
    names_b = {kn: i for i, kn in enumerate(tb.key_names())}
    common = sorted(set(names_a) & set(names_b))
    drift: float | None = None
    if common and ea.dim == eb.dim:
        pa = ta.prototypes[[names_a[c] for c in common]].astype(np.float64)
        pb = tb.prototypes[[names_b[c] for c in common]].astype(np.float64)
        cos = (pa * pb).sum(1) / (np.linalg.norm(pa, axis=1) * np.linalg.norm(pb, axis=1))
        drift = float(np.mean(1.0 - cos))
    return TaskDiff(
        name,
        ea.count,
        eb.count,
        ea.dim,
        eb.dim,
        same,
        len(common),
        len(set(names_b) - set(names_a)),
        len(set(names_a) - set(names_b)),
        drift,
    )
