"""Checks of user input (prototypes, keys, support, queries), one clear message per bad case."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from backpack.errors import BackpackError, invalid


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch)."""
    return type(x).__module__.startswith("torch")


def to_numpy(x: Any) -> np.ndarray:
    """A numpy view (or copy) of an array-like; torch tensors are detached and moved to the CPU."""
    if is_torch(x):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        return x.numpy()
    return np.asarray(x)


def _numeric(a: np.ndarray, field: str, where: str, kinds: str) -> None:
    if a.dtype.kind not in kinds:
        names = {"f": "float", "i": "int", "u": "uint"}
        expected = " or ".join(names[k] for k in kinds)
        raise BackpackError(invalid(f"dtype of {field}", where, expected, a.dtype))


def check_prototypes(x: Any, where: str) -> np.ndarray:
    """float32 [P, D] with P, D >= 1, finite, and no all-zero row (cosine is undefined there)."""
    a = to_numpy(x)
    if a.ndim != 2:
        raise BackpackError(invalid("prototypes", where, "a 2-D array [count, dim]", f"shape {a.shape}"))
    if a.shape[0] == 0:
        raise BackpackError(invalid("prototypes", where, "at least 1 prototype (an empty task)", "0 rows"))
    if a.shape[1] == 0:
        raise BackpackError(invalid("dim", where, "at least 1", 0))
    _numeric(a, "prototypes", where, "fiu")
    a = np.ascontiguousarray(a, dtype=np.float32)
    bad = ~np.isfinite(a)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise BackpackError(invalid(f"prototypes[{row}, {col}]", where, "a finite number", a[row, col]))
    zero = ~a.any(axis=1)
    if zero.any():
        row = int(np.flatnonzero(zero)[0])
        raise BackpackError(
            invalid(f"prototypes[{row}]", where, "a non-zero vector (cosine needs a norm)", "all zeros")
        )
    return a


def check_keys(x: Any, count: int, n_verbs: int, n_nouns: int, where: str) -> np.ndarray:
    """int32 [P, 2] of (verb id, noun id) inside the vocabulary, without duplicates."""
    a = to_numpy(x)
    if a.shape != (count, 2):
        raise BackpackError(invalid("keys", where, f"shape ({count}, 2)", f"shape {a.shape}"))
    _numeric(a, "keys", where, "iu")
    a64 = a.astype(np.int64)
    for col, (label, n) in enumerate((("verb id", n_verbs), ("noun id", n_nouns))):
        out = (a64[:, col] < 0) | (a64[:, col] >= n)
        if out.any():
            row = int(np.flatnonzero(out)[0])
            raise BackpackError(
                invalid(f"keys[{row}]", where, f"{label} in [0, {n}) (the vocabulary)", int(a64[row, col]))
            )
    flat = a64[:, 0] * n_nouns + a64[:, 1]
    uniq, first, counts = np.unique(flat, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = int(uniq[counts > 1][0])
        rows = np.flatnonzero(flat == dup)[:2].tolist()
        raise BackpackError(
            invalid(
                "keys",
                where,
                "distinct (verb, noun) keys",
                f"({dup // n_nouns}, {dup % n_nouns}) at rows {rows}",
            )
        )
    return np.ascontiguousarray(a, dtype=np.int32)


def check_support(x: Any, count: int, where: str) -> np.ndarray:
    """int64 [P], each >= 1 (how many samples a prototype averages)."""
    a = to_numpy(x)
    if a.shape != (count,):
        raise BackpackError(invalid("support", where, f"shape ({count},)", f"shape {a.shape}"))
    _numeric(a, "support", where, "iu")
    a = np.ascontiguousarray(a, dtype=np.int64)
    low = a < 1
    if low.any():
        row = int(np.flatnonzero(low)[0])
        raise BackpackError(invalid(f"support[{row}]", where, ">= 1", int(a[row])))
    return a


def check_query_shape(shape: tuple[int, ...], dim: int, count: int, k: Any, where: str) -> None:
    """Queries are [Q, dim]; 1 <= k <= count."""
    if len(shape) != 2:
        raise BackpackError(invalid("queries", where, "a 2-D array [n, dim]", f"shape {tuple(shape)}"))
    if shape[1] != dim:
        raise BackpackError(invalid("query dim", where, dim, shape[1]))
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= count:
        raise BackpackError(invalid("k", where, f"an integer in [1, {count}]", repr(k)))


def check_query_values(q: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """float32 C-contiguous queries, all finite, and their L2 norms [Q] (computed once: the
    norm doubles as the finiteness check, and search divides scores by it instead of copying
    and normalising the queries)."""
    _numeric(q, "queries", where, "fiu")
    q = np.ascontiguousarray(q, dtype=np.float32)
    sq = np.einsum("ij,ij->i", q, q)
    # one max/min instead of isfinite().all(): NaN/inf make max non-finite (a hot path for Q = 1)
    if sq.size and not (math.isfinite(float(sq.max())) and float(sq.min()) > _TINY * _TINY):
        bad = ~np.isfinite(q)
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise BackpackError(invalid(f"queries[{row}, {col}]", where, "a finite number", q[row, col]))
        # Huge or tiny (or zero) rows over/underflow the float32 norm: normalise them in float64.
        n64 = np.sqrt(np.einsum("ij,ij->i", q, q, dtype=np.float64))
        q = (q / np.where(n64 > 0, n64, 1.0)[:, None]).astype(np.float32)
        return q, (n64 > 0).astype(np.float32)  # zero rows keep score 0
    return q, np.sqrt(sq, out=sq)


_TINY = 1e-15
