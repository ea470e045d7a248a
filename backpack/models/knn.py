"""The k-NN of the refinement layers: which path serves a store task, and the in-torch exact search.

Rule, measured by ``benchmarks/bench_learner.py::test_knn_vs_reference`` (CPU, prints both
paths) and ``experiments/gpu_check.py`` (CUDA, prints both):

* CPU queries: the store's search. faiss's BLAS path fuses the top-k into its blocked GEMM and
  beats torch GEMM + ``topk`` at the refinement's sizes (the benchmark above prints both).
* Queries on an accelerator, for a task whose store index is exact (``flat``): GEMM + ``topk`` in
  torch against the prototypes normalised once at model creation (a buffer that moves with the
  model), with no per-call normalisation or cache look-up.
* Approximate indexes (IVF/HNSW, chosen for large P) always keep the store's search, and so do
  tasks whose normalised copy would be too large.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from backpack.store._device_search import exact_topk

# The torch path keeps a second (normalised) copy of the prototypes on the model's device.
TORCH_KNN_MAX_BYTES = 256 * 2**20


def uses_torch_knn(view: Any) -> bool:
    """True when ``view``'s k-NN can be served in torch: an exact (flat) store index of bounded size."""
    spec = getattr(view, "index_spec", None)
    if getattr(spec, "type", None) != "flat":
        return False  # approximate (or unknown) index: its own search is the contract
    return 4 * int(view.count) * int(view.dim) <= TORCH_KNN_MAX_BYTES


def torch_path_for(f: Tensor) -> bool:
    """Whether queries ``f`` take the torch path (when their task has one): not on the CPU."""
    return f.device.type != "cpu"


def nearest(f: Tensor, unit: Tensor, k: int, where: str = "the refinement k-NN") -> Tensor:
    """Ids [M, k] of the rows of ``unit`` [P, D] (L2-normalised) most cosine-similar to ``f`` [M, D].

    The store's exact torch search (:func:`backpack.store._device_search.exact_topk`) without
    normalising the queries: ranking by ``f . p`` is ranking by cosine for a fixed query.

    Shapes: f [M, D], unit [P, D] -> [M, k] int64, on ``f``'s device.
    """
    return exact_topk(f.detach(), unit, k, where, normalise=False)[1]


__all__ = ["TORCH_KNN_MAX_BYTES", "nearest", "torch_path_for", "uses_torch_knn"]
