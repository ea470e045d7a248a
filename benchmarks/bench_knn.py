"""Exact k-NN against this machine's GEMM rate.

At P = 3,000 prototypes, D = 256 and Q = 128 / 512 queries, in one run (rounds interleaved):

* ``gemm``: the fp32 GEMM the search amounts to, [Q, D] @ [D, P], best of numpy and torch
  (FLOPs = 2 Q P D); its rate is the machine's reference.
* ``raw``: the kernel the store calls, faiss ``IndexFlatIP.search`` on normalised float32 queries
  with faiss's BLAS path forced (``backpack.store._index.blas_path``).
* ``store``: ``TaskView.search`` (numpy queries; torch CPU queries take the same path).
* ``store_torch``: ``TaskView.search`` with torch CPU queries.

Targets: ``store_rate_over_gemm`` >= 0.60 at Q = 512 and >= 0.45 at Q = 128;
``store_over_raw`` <= 1.10. Under CI (``--benchmark-disable``) or with ``BACKPACK_BENCH_SMALL=1``
each case runs once at a tiny size as a smoke test.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _timing import interleaved_times  # benchmarks/_timing.py (pytest puts benchmarks/ on sys.path)

from backpack.store import Backpack
from backpack.store._index import blas_path, normalize

P, D = 3000, 256


def _small(benchmark: Any) -> bool:
    small = bool(benchmark.disabled) or os.environ.get("BACKPACK_BENCH_SMALL") == "1"
    benchmark.extra_info["load_avg_1m"] = round(os.getloadavg()[0], 2)  # a busy machine slows everything
    return small


def _task(path: Path, count: int, dim: int) -> Any:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((64, dim)).astype(np.float32)
    x = centres[rng.integers(0, 64, count)] + 0.5 * rng.standard_normal((count, dim)).astype(np.float32)
    side = int(np.ceil(np.sqrt(count)))
    keys = np.stack([np.arange(count) // side, np.arange(count) % side], axis=1).astype(np.int32)
    bp = Backpack.create(path, verbs=[f"v{i}" for i in range(side)], nouns=[f"n{i}" for i in range(side)])
    with bp.new_version(message="bench") as v:
        v.add_task("lta", x, keys, np.ones(count, np.int64), index="flat")
    return Backpack.open(path).task("lta")


@pytest.mark.parametrize("queries", [128, 512])
def test_exact_search_share_of_gemm_rate(benchmark: Any, tmp_path: Path, queries: int) -> None:
    small = _small(benchmark)
    count, dim, q_n = (200, 16, 8) if small else (P, D, queries)
    view = _task(tmp_path / "s", count, dim)
    xb = normalize(view.prototypes)
    xq = np.random.default_rng(1).standard_normal((q_n, dim)).astype(np.float32)
    xq_unit = normalize(xq)
    tq = torch.from_numpy(xq.copy())
    tb_t = torch.from_numpy(xb.T.copy())
    xb_t = np.ascontiguousarray(xb.T)
    index = view.index

    def raw() -> Any:
        with blas_path():
            return index.search(xq_unit, 4)

    fns: dict[str, Callable[[], Any]] = {
        "gemm_numpy": lambda: xq @ xb_t,
        "gemm_torch": lambda: tq @ tb_t,
        "raw": raw,
        "store": lambda: view.search(xq, 4),
        "store_torch": lambda: view.search(tq, 4),
    }
    _, ids = view.search(xq, 4)
    assert np.array_equal(ids, raw()[1])  # the store returns what the kernel finds
    times = interleaved_times(benchmark, fns, 1 if small else 40)
    med = {n: statistics.median(ts) for n, ts in times.items()}
    flops = 2.0 * q_n * count * dim
    gemm = min(med["gemm_numpy"], med["gemm_torch"])
    benchmark.extra_info.update(
        {
            "count": count,
            "dim": dim,
            "queries": q_n,
            "gemm_gflops": flops / gemm / 1e9,
            "gemm_numpy_gflops": flops / med["gemm_numpy"] / 1e9,
            "gemm_torch_gflops": flops / med["gemm_torch"] / 1e9,
            "raw_gflops": flops / med["raw"] / 1e9,
            "store_gflops": flops / med["store"] / 1e9,
            "store_rate_over_gemm": gemm / med["store"],
            "store_torch_rate_over_gemm": gemm / med["store_torch"],
            "raw_rate_over_gemm": gemm / med["raw"],
            "store_over_raw": med["store"] / med["raw"],
            "store_torch_over_raw": med["store_torch"] / med["raw"],
        }
    )
    assert med["store"] > 0 and med["raw"] > 0
