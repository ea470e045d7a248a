"""The EgoPack step and the backbone step against their FLOP floor, measured in the same run.

Official AR config: 1536-d inputs, hidden 1024, 3 support tasks of P = 3,000 prototypes, k = 4,
depth 2, 16 AR graphs of 9 nodes a step, at D_k 256 and 1024. A step is forward, loss, backward
and the trainer's Adam step. The floor of a step is its FLOPs (torch's counter plus the k-NN GEMMs
faiss does, see ``bench_learner._step_flops``) at the rate of one large float32 GEMM timed in the
same rounds (``gemm_gflops``): ``*_over_floor`` = step time / (FLOPs / GEMM rate). Target of the
issue: <= 1.2x for both steps at both widths. Rounds are interleaved (``_timing.py``) because the
machine is shared; medians are reported.

Under CI (``--benchmark-disable``) or with ``BACKPACK_BENCH_SMALL=1`` it runs once at a tiny size.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import pytest
import torch
from _timing import interleaved_times  # benchmarks/_timing.py (pytest puts benchmarks/ on sys.path)
from bench_learner import SIZES, TINY, _models, _small, _step_flops

GEMM_N = 1024  # a GEMM large enough to run at the BLAS's rate, small enough to take ~10 ms


def gemm_case(n: int = GEMM_N) -> tuple[object, float]:
    """A callable doing one ``n x n x n`` float32 GEMM, and its FLOPs."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
    return (lambda: torch.mm(a, b, out=out)), 2.0 * n**3


@pytest.mark.parametrize("size", ["ego4d-256", "ego4d-1024"])
def test_step_over_flop_floor(benchmark, tmp_path: Path, size: str) -> None:  # type: ignore[no-untyped-def]
    from backpack.pipeline.trainer import make_optimizer
    from backpack.tasks.registry import get_task

    small = _small(benchmark)
    models, batch, views = _models(tmp_path, TINY if small else SIZES[size])
    ar = get_task("ar")
    opts = {n: make_optimizer(m.parameters(), lr=1e-4) for n, m in models.items()}
    inter = models["egopack"].interaction
    assert inter is not None
    units = int(batch.x.shape[0])  # type: ignore[attr-defined]
    knn = sum(2 * units * int(v.count) * int(v.dim) for v in views.values()) * inter.depth  # type: ignore[attr-defined]
    flops = {
        "egopack": _step_flops(models["egopack"], batch, knn),
        "backbone": _step_flops(models["mtl_ft"], batch, 0),
    }
    gemm, gemm_flops = gemm_case(64 if small else GEMM_N)

    def step(name: str) -> None:
        loss = ar.loss(models[name]("ar", batch), batch)
        opts[name].zero_grad(set_to_none=True)
        loss.backward()
        opts[name].step()

    # the backbone step is the same model without the interaction (MTL+FT in bench_learner)
    fns = {"gemm": gemm, "egopack": lambda: step("egopack"), "backbone": lambda: step("mtl_ft")}
    times = interleaved_times(benchmark, fns, 1 if small else 12, inner=1)
    med = {n: statistics.median(ts) for n, ts in times.items()}
    rate = gemm_flops / med["gemm"]
    info: dict[str, object] = {
        "size": size,
        "gemm_gflops": rate / 1e9,
        "threads": torch.get_num_threads(),
        "load_avg_1m": os.getloadavg()[0],
        "adam_fused": bool(opts["egopack"].param_groups[0]["fused"]),
    }
    for name in ("egopack", "backbone"):
        floor = flops[name] / rate
        info[f"{name}_gflop"] = flops[name] / 1e9
        info[f"{name}_step_ms"] = 1e3 * med[name]
        info[f"{name}_floor_ms"] = 1e3 * floor
        info[f"{name}_over_floor"] = med[name] / floor
        info[f"{name}_gflops"] = flops[name] / med[name] / 1e9
    benchmark.extra_info.update(info)
    assert flops["egopack"] > flops["backbone"] > 0 and rate > 0
