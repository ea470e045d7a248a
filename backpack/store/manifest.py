"""The manifest of a version: frozen dataclasses with ``to_dict``/``from_dict`` (zarr-python style).

``from_dict`` checks every field (types, ranges, the size bounds of :mod:`._format`) so that a
corrupt or hostile manifest is refused with a message naming the field before anything is read
or allocated (the field readers are in :mod:`._manifest_fields`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backpack.errors import IntegrityError, StoreError, invalid
from backpack.store._format import (
    ARRAY_DTYPES,
    FORMAT_VERSION,
    MAX_ARRAY_BYTES,
    MAX_COUNT,
    MAX_DIM,
    check_format,
)
from backpack.store._manifest_fields import bounded_int, content_sha256, get_field, vocab_list

_ITEMSIZE = {"float32": 4, "int32": 4, "int64": 8, "uint8": 1}
_INDEX_KNOBS = {"ivf": ("nlist", "nprobe"), "hnsw": ("M", "efConstruction", "efSearch")}
PROVENANCE_FIELDS = (
    "checkpoint_sha256",
    "dataset_fingerprint",
    "feature_extractor",
    "backpack_version",
    "extra",
)


@dataclass(frozen=True)
class ArrayEntry:
    """One stored array: its shape, dtype and the sha256 of its raw C-order little-endian bytes."""

    shape: tuple[int, ...]
    dtype: str
    sha256: str

    @property
    def nbytes(self) -> int:
        """Size of the raw array in bytes."""
        n = _ITEMSIZE[self.dtype]
        for s in self.shape:
            n *= s
        return n

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the manifest schema of docs/store-format.md)."""
        return {"shape": list(self.shape), "dtype": self.dtype, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> ArrayEntry:
        """Parse and check ``d``; errors name ``where`` and the field."""
        shape = get_field(d, "shape", list, where)
        if not 1 <= len(shape) <= 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise StoreError(invalid("shape", where, "1 or 2 non-negative integers", shape))
        dtype = get_field(d, "dtype", str, where)
        if dtype not in _ITEMSIZE:
            raise StoreError(invalid("dtype", where, f"one of {sorted(_ITEMSIZE)}", repr(dtype)))
        sha = get_field(d, "sha256", str, where)
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise StoreError(invalid("sha256", where, "64 lowercase hex digits", repr(sha)[:80]))
        entry = cls(tuple(shape), dtype, sha)
        if entry.nbytes > MAX_ARRAY_BYTES:
            raise StoreError(
                invalid("shape", where, f"at most {MAX_ARRAY_BYTES} bytes", f"{entry.nbytes} bytes")
            )
        return entry


@dataclass(frozen=True)
class IndexSpec:
    """The FAISS index of a task: type (``flat``, ``ivf``, ``hnsw``), parameters, measured recall."""

    type: str = "flat"
    params: dict[str, Any] = field(default_factory=dict)
    recall_at_k: float | None = None
    recall_k: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the manifest schema of docs/store-format.md)."""
        return {
            "type": self.type,
            "params": dict(self.params),
            "recall_at_k": self.recall_at_k,
            "recall_k": self.recall_k,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> IndexSpec:
        """Parse and check ``d``; errors name ``where`` and the field."""
        kind = get_field(d, "type", str, where)
        if kind not in ("flat", "ivf", "hnsw"):
            raise StoreError(invalid("type", where, "one of ['flat', 'hnsw', 'ivf']", repr(kind)))
        recall = get_field(d, "recall_at_k", (int, float), where, optional=True)
        params = dict(get_field(d, "params", dict, where))
        for knob in _INDEX_KNOBS.get(kind, ()):
            if knob in params:  # a flipped bit (nprobe 0) must not reach faiss
                bounded_int(params, knob, f"{where}, params", 1, 1 << 20)
        if "recall_target" in params:
            rt = get_field(params, "recall_target", (int, float), f"{where}, params")
            if not 0.0 <= rt <= 1.0:
                raise StoreError(invalid("recall_target", f"{where}, params", "0 <= recall_target <= 1", rt))
        return cls(
            kind,
            params,
            None if recall is None else float(recall),
            get_field(d, "recall_k", int, where, optional=True),
        )


@dataclass(frozen=True)
class TaskEntry:
    """One task of a version: where its zarr group lives and what it must contain."""

    name: str
    dim: int
    count: int
    path: str
    arrays: dict[str, ArrayEntry]
    index: IndexSpec = field(default_factory=IndexSpec)
    metric: str = "cosine"
    written_in: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the manifest schema of docs/store-format.md)."""
        return {
            "name": self.name,
            "dim": self.dim,
            "count": self.count,
            "metric": self.metric,
            "index": self.index.to_dict(),
            "path": self.path,
            "written_in": self.written_in,
            "arrays": {k: v.to_dict() for k, v in self.arrays.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> TaskEntry:
        """Parse and check ``d``; errors name ``where`` and the field."""
        name = get_field(d, "name", str, where)
        where = f"{where}, task {name!r}"
        dim = bounded_int(d, "dim", where, 1, MAX_DIM)
        count = bounded_int(d, "count", where, 1, MAX_COUNT)
        if count * dim * 4 > MAX_ARRAY_BYTES:
            raise StoreError(
                invalid("count x dim", where, f"at most {MAX_ARRAY_BYTES // 4} floats", count * dim)
            )
        metric = get_field(d, "metric", str, where)
        if metric != "cosine":
            raise StoreError(invalid("metric", where, "'cosine'", repr(metric)))
        path = get_field(d, "path", str, where)
        if not path.startswith("data/") or ".." in path or "//" in path or "\\" in path:
            raise StoreError(invalid("path", where, "a key under 'data/'", repr(path)))
        raw = get_field(d, "arrays", dict, where)
        arrays = {}
        for array_name, dtype in ARRAY_DTYPES.items():
            if array_name not in raw:
                raise StoreError(f"Missing array {array_name!r} in {where}.")
            entry = ArrayEntry.from_dict(
                get_field(raw, array_name, dict, where), f"{where}, array {array_name!r}"
            )
            expected = {"prototypes": (count, dim), "keys": (count, 2), "support": (count,)}.get(array_name)
            if (
                entry.dtype != dtype
                or (expected is not None and entry.shape != expected)
                or (array_name == "index" and len(entry.shape) != 1)
            ):
                raise StoreError(
                    invalid(
                        "shape/dtype",
                        f"{where}, array {array_name!r}",
                        f"{expected or '(n,)'} {dtype}",
                        f"{entry.shape} {entry.dtype}",
                    )
                )
            arrays[array_name] = entry
        index = IndexSpec.from_dict(get_field(d, "index", dict, where), f"{where}, index")
        written_in = get_field(d, "written_in", int, where, optional=True) or 0
        return cls(name, dim, count, path, arrays, index, metric, written_in)


@dataclass(frozen=True)
class Provenance:
    """Where the prototypes came from."""

    checkpoint_sha256: str | None = None
    dataset_fingerprint: str | None = None
    feature_extractor: str | None = None
    backpack_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the manifest schema of docs/store-format.md)."""
        return {f: getattr(self, f) for f in PROVENANCE_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "provenance") -> Provenance:
        """Parse and check ``d``; errors name ``where`` and the field."""
        unknown = sorted(set(d) - set(PROVENANCE_FIELDS))
        if unknown:
            raise StoreError(
                invalid("provenance fields", where, f"a subset of {list(PROVENANCE_FIELDS)}", unknown)
            )
        values = {f: get_field(d, f, str, where, optional=True) for f in PROVENANCE_FIELDS[:-1]}
        return cls(**values, extra=dict(get_field(d, "extra", dict, where, optional=True) or {}))


@dataclass(frozen=True)
class Manifest:
    """A published version: what it holds and how to check it."""

    version: int
    parent: int | None
    created_at: str
    message: str
    tasks: dict[str, TaskEntry]
    verbs: tuple[str, ...]
    nouns: tuple[str, ...]
    provenance: Provenance = field(default_factory=Provenance)
    format_version: int = FORMAT_VERSION
    parent_sha256: str | None = None
    sha256: str | None = None  # of the manifest's own content (set when parsed or written)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the manifest schema of docs/store-format.md), ending in its checksum."""
        body = {
            "format": "backpack",
            "format_version": self.format_version,
            "version": self.version,
            "parent": self.parent,
            "created_at": self.created_at,
            "message": self.message,
            "tasks": {k: v.to_dict() for k, v in self.tasks.items()},
            "vocabulary": {"verbs": list(self.verbs), "nouns": list(self.nouns)},
            "provenance": self.provenance.to_dict(),
            "parent_sha256": self.parent_sha256,
        }
        body["manifest_sha256"] = content_sha256(body)
        return body

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "manifest") -> Manifest:
        """Parse and check ``d``; errors name ``where`` and the field.

        A stored ``manifest_sha256`` must match the content (an edited manifest is refused);
        manifests written before checksums existed have none and are read as they are.
        """
        check_format(d, where)
        digest = content_sha256({k: v for k, v in d.items() if k != "manifest_sha256"})
        stored = get_field(d, "manifest_sha256", str, where, optional=True)
        if stored is not None and stored != digest:
            raise IntegrityError(
                f"Checksum mismatch for {where}: its content was changed after it was published. "
                f"Expected sha256 {stored}. Got {digest}."
            )
        parent_sha = get_field(d, "parent_sha256", str, where, optional=True)
        version = bounded_int(d, "version", where, 1, 10**8 - 1)
        parent = get_field(d, "parent", int, where, optional=True)
        if parent is not None and not 1 <= parent < version:
            raise StoreError(invalid("parent", where, f"None or 1 <= parent < {version}", parent))
        vocab = get_field(d, "vocabulary", dict, where)
        verbs, nouns = (tuple(vocab_list(vocab, k, where)) for k in ("verbs", "nouns"))
        raw_tasks = get_field(d, "tasks", dict, where)
        tasks = {}
        for name in raw_tasks:
            entry = TaskEntry.from_dict(get_field(raw_tasks, name, dict, where), where)
            if entry.name != name:
                raise StoreError(invalid("name", f"{where}, task {name!r}", repr(name), repr(entry.name)))
            tasks[name] = entry
        return cls(
            version,
            parent,
            get_field(d, "created_at", str, where),
            get_field(d, "message", str, where),
            tasks,
            verbs,
            nouns,
            Provenance.from_dict(get_field(d, "provenance", dict, where), f"{where}, provenance"),
            d["format_version"],
            parent_sha,
            digest,
        )
