"""Key layout and limits of the store format (documented in docs/store-format.md).

::

    backpack.json                      root metadata: format, format_version, vocabulary
    versions/00000001.json             one manifest per published version (exclusive create)
    tags/<name>.json                   {"version": N, ...}
    head.json                          {"version": N, ...}: the highest version ever published
    data/<task>-<uuid>/                a zarr v3 group: prototypes, keys, support, index
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from backpack.errors import BackpackError, StoreError, invalid

FORMAT_NAME = "backpack"
FORMAT_VERSION = 1
ROOT_KEY = "backpack.json"
HEAD_KEY = "head.json"
PRUNED_KEY = "pruned.json"  # a bundle of some versions: the numbers left out on purpose
VERSIONS_PREFIX = "versions/"
TAGS_PREFIX = "tags/"
DATA_PREFIX = "data/"
ARRAY_NAMES = ("prototypes", "keys", "support", "index")
ARRAY_DTYPES = {"prototypes": "float32", "keys": "int32", "support": "int64", "index": "uint8"}

# Refuse manifests claiming more than this before allocating anything (a corrupt or hostile file).
MAX_COUNT = 2**31 - 1  # ids are returned as int64 but keys/rows must fit int32 tooling
MAX_DIM = 65_536
MAX_ARRAY_BYTES = 2**36  # 64 GiB per array
MAX_JSON_BYTES = 64 * 2**20  # a manifest or tag file larger than this is not ours
MAX_VOCABULARY = 1_000_000

_VERSION_RE = re.compile(r"^versions/(\d{8})\.json$")
_TAG_RE = re.compile(r"^tags/([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.json$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TAG_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def version_key(version: int) -> str:
    """Key of the manifest of ``version`` (zero-padded so that keys sort by number)."""
    return f"versions/{version:08d}.json"


def tag_key(name: str) -> str:
    """Key of the tag file ``name``."""
    return f"tags/{name}.json"


def parse_version_key(key: str) -> int | None:
    """The version number of a manifest key, or ``None`` for anything else (temp files...)."""
    m = _VERSION_RE.match(key)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def parse_tag_key(key: str) -> str | None:
    """The tag name of a tag key, or ``None``."""
    m = _TAG_RE.match(key)
    return m.group(1) if m else None


def check_task_name(name: object) -> str:
    """Validate a task name (it becomes part of a key)."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BackpackError(
            invalid(
                "task name",
                "the store",
                "1-64 characters of [A-Za-z0-9_.-], starting alphanumeric",
                repr(name),
            )
        )
    return name


def check_tag_name(name: object) -> str:
    """Validate a tag name: not ``latest`` (virtual) and not all digits (reads as a version)."""
    if not isinstance(name, str) or not TAG_NAME_RE.match(name) or name.isdigit() or name == "latest":
        raise BackpackError(
            invalid(
                "tag name",
                "the store",
                "1-128 characters of [A-Za-z0-9._-], not all digits, not 'latest'",
                repr(name),
            )
        )
    return name


def dumps(obj: dict[str, Any]) -> bytes:
    """Canonical JSON bytes of a metadata object."""
    return (json.dumps(obj, indent=1, sort_keys=False, ensure_ascii=False) + "\n").encode("utf-8")


def loads(data: bytes, where: str) -> dict[str, Any]:
    """Parse a metadata object, refusing oversized, too deep or non-object JSON naming ``where``."""
    from backpack import safe_json

    obj = safe_json.loads(data, where, StoreError, max_bytes=MAX_JSON_BYTES)
    if not isinstance(obj, dict):
        raise StoreError(invalid("content", where, "a JSON object", type(obj).__name__))
    return obj


def advance_head(backend: Any, version: int, manifest_sha256: str) -> None:
    """Record ``version`` as the highest published one, unless a higher one is recorded already.

    Best effort, after the commit: a lagging head only weakens the check that the latest
    manifest was not deleted (a concurrent writer may briefly overwrite a higher number).
    """
    try:
        current = read_head(backend)
        if current is None or current[0] < version:
            backend.write(HEAD_KEY, dumps({"version": version, "manifest_sha256": manifest_sha256}))
    except Exception:  # noqa: BLE001 -- the version is published; the hint is optional
        pass


def read_head(backend: Any) -> tuple[int, str | None] | None:
    """(version, manifest sha256) of ``head.json``, or ``None`` when there is none (old stores)."""
    from backpack.errors import NotFoundError

    try:
        obj = loads(backend.read(HEAD_KEY), f"{HEAD_KEY} of store {backend.url!r}")
    except NotFoundError:
        return None
    v, sha = obj.get("version"), obj.get("manifest_sha256")
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise StoreError(invalid("version", f"{HEAD_KEY} of store {backend.url!r}", "an integer >= 1", v))
    return v, sha if isinstance(sha, str) else None


def check_format(meta: dict[str, Any], where: str) -> None:
    """Check ``format`` and ``format_version`` of a root metadata object or manifest."""
    from backpack.errors import FormatVersionError

    if "format" in meta and meta["format"] != FORMAT_NAME:
        raise StoreError(invalid("format", where, repr(FORMAT_NAME), repr(meta.get("format"))))
    fv = meta.get("format_version")
    if not isinstance(fv, int) or isinstance(fv, bool) or fv < 1:
        raise FormatVersionError(invalid("format_version", where, "an integer >= 1", repr(fv)))
    if fv > FORMAT_VERSION:
        raise FormatVersionError(
            invalid("format_version", where, f"<= {FORMAT_VERSION}", fv)
            + " The store was written by a newer backpack; upgrade to read it."
        )


def utc_now() -> str:
    """Current UTC time, ISO 8601 with a ``Z``."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_vocabulary(values: Any, field: str) -> tuple[str, ...]:
    """Verb or noun names: a non-empty sequence of distinct non-empty strings."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise BackpackError(
            invalid(field, "Backpack.create", "a sequence of non-empty strings", repr(values)[:80])
        )
    values = tuple(values)
    if not all(isinstance(v, str) and v for v in values):
        raise BackpackError(
            invalid(field, "Backpack.create", "a sequence of non-empty strings", repr(values)[:80])
        )
    if not values:
        raise BackpackError(invalid(field, "Backpack.create", "at least one name", "none"))
    dupes = sorted({v for v in values if values.count(v) > 1}) if len(set(values)) != len(values) else []
    if dupes:
        raise BackpackError(invalid(field, "Backpack.create", "distinct names", f"duplicates {dupes[:5]}"))
    return values


def span(versions: list[int]) -> str:
    """``1..N`` for a gap-free list of versions, else the list (for messages)."""
    if not versions:
        return "none"
    return f"1..{versions[-1]}" if versions == list(range(1, versions[-1] + 1)) else str(versions)
