"""The k-NN of the refinement layers: which path serves a store task, and the in-torch exact search.

Rule (measured by ``benchmarks/bench_learner.py::test_knn_vs_reference``, which prints both
paths): a task whose store index is exact (``flat``) is searched in torch, with a GEMM + ``topk``
against its prototypes normalised once at model creation. At training-batch sizes (Q ~ 144,
P = 3,000) this is 3-4x faster than the store's search, which converts the queries to numpy, checks
them, takes a lock and hands off to faiss's OpenMP threads (that then spin against torch's) at
every call; it also never leaves the caller's device. Approximate indexes (IVF/HNSW, chosen for
large P) keep the store's search, and so do tasks whose normalised copy would be too large.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from backpack.errors import BackpackError, invalid

# The torch path keeps a second (normalised) copy of the prototypes on the model's device.
TORCH_KNN_MAX_BYTES = 256 * 2**20


def uses_torch_knn(view: Any) -> bool:
    """True when ``view``'s k-NN is served in torch: an exact (flat) store index of bounded size."""
    spec = getattr(view, "index_spec", None)
    if getattr(spec, "type", None) != "flat":
        return False  # approximate (or unknown) index: its own search is the contract
    return 4 * int(view.count) * int(view.dim) <= TORCH_KNN_MAX_BYTES


def nearest(f: Tensor, unit: Tensor, k: int, where: str = "the refinement k-NN") -> Tensor:
    """Ids [M, k] of the rows of ``unit`` [P, D] (L2-normalised) most cosine-similar to ``f`` [M, D].

    Ranking by ``f . p`` is ranking by cosine for a fixed query, so the queries need no
    normalisation. Non-finite queries are refused, as the store's search refuses them.

    Shapes: f [M, D], unit [P, D] -> [M, k] int64, on ``f``'s device.
    """
    q = f.detach()
    if q.dtype != unit.dtype:
        q = q.to(unit.dtype)
    if not bool(torch.isfinite(q).all()):
        bad = torch.nonzero(~torch.isfinite(q))[0].tolist()
        raise BackpackError(invalid(f"queries[{bad[0]}, {bad[1]}]", where, "a finite number", "nan/inf"))
    return torch.topk(q @ unit.T, k, dim=1, sorted=True).indices


__all__ = ["TORCH_KNN_MAX_BYTES", "nearest", "uses_torch_knn"]
