"""The one JSON reader for anything read from disk (store metadata, run folders, annotations).

Files can be written by anyone, so bounds are checked before the data is trusted: the size, the
nesting depth (counted on the raw bytes before parsing: a deep file would otherwise end in a
``RecursionError``) and the length of every number (Python refuses integers of more than 4300
digits with a ``ValueError``; we refuse far shorter ones, none of ours is longer than 40
characters). Every failure is one error naming the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from backpack.errors import BackpackError

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 64
MAX_BYTES = 256 * 2**20

# A JSON string (possessive: linear time on hostile input); masked before counting brackets.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
_OTHER = bytes(b for b in range(256) if b not in b"[]{}")


def depth_of(data: bytes) -> int:
    """Deepest nesting of ``[``/``{`` outside strings (an upper bound for malformed input)."""
    brackets = _STRING.sub(b'""', data).translate(None, _OTHER)
    depth = deepest = 0
    for b in brackets:
        depth += 1 if b in (0x5B, 0x7B) else -1
        deepest = max(deepest, depth)
    return deepest


def loads(
    data: bytes | str,
    where: str,
    error: type[BackpackError] = BackpackError,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    verb: str = "parse",
) -> Any:
    """Parse ``data`` (from ``where``, named in errors) within the bounds, else raise ``error``
    (``Cannot <verb> <where>: ...``)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise error(
            f"Invalid value for 'size' in {where}. Expected <= {max_bytes} bytes. Got {len(raw)} bytes."
        )
    depth = depth_of(raw)
    if depth > max_depth:
        raise error(f"Cannot {verb} {where}: nested {depth} levels deep. Expected at most {max_depth}.")
    try:
        return json.loads(
            raw.decode("utf-8"),
            parse_int=_number(int, where, error),
            parse_float=_number(float, where, error),
        )
    except BackpackError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise error(f"Cannot {verb} {where}: {exc}.") from None


def load_file(
    path: str | Path, error: type[BackpackError] = BackpackError, what: str = "file", **bounds: Any
) -> Any:
    """Read and parse the JSON file ``path``; unreadable files raise ``error`` naming it."""
    where = f"{what} {str(path)!r}"
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"Cannot read {where}: {exc.strerror or exc}.") from None
    return loads(raw, where, error, verb="read", **bounds)


def _number(convert: Any, where: str, error: type[BackpackError]) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            limit = MAX_NUMBER_CHARS
            raise error(
                f"Cannot parse {where}: a number of {len(text)} characters. Expected at most {limit}."
            )
        return convert(text)

    return parse
