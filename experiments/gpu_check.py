"""One-shot GPU check: k-NN and an EgoPack training step on a CUDA device.

\b
    python experiments/gpu_check.py --out gpu_check.json            # on a machine with a GPU (< 5 min)
    python experiments/gpu_check.py --device cpu --quick --out x.json  # the same code path on the CPU

It writes one JSON object:

* ``knn``: exact cosine top-4 at P = 3,000 / 100,000 prototypes, D = 256, Q = 128 / 512 queries, on
  the device: the store's search with device queries (``TaskView.search``: faiss GPU when that build
  is installed, else torch on the device), the refinement's torch path (``backpack.models.knn``),
  raw faiss GPU (``null`` without faiss GPU) and the CPU store search for context; ms and GFLOP/s.
* ``step``: one training step (3 backpack tasks, depth 2, k 4, P 3,000, D_k 256, 16 graphs) of
  EgoPack and MTL+FT on the device, ms and their ratio.
* ``device``, ``torch``, ``faiss``, ``faiss_gpus``, ``seconds``.

Timings synchronise the device around each call and take the median of the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1] / "benchmarks")
)  # bench_learner's model/store helpers

K = 4


def timed(fn: Callable[[], Any], device: torch.device, rounds: int) -> float:
    """Median ms of ``fn`` over ``rounds`` (after one warm-up), synchronising ``device``."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _view(root: Path, count: int, dim: int) -> Any:
    from bench_learner import _store

    side = int(np.ceil(np.sqrt(count)))
    return _store(root, ["lta"], dim, count, side, side).task("lta")  # type: ignore[attr-defined]


def _faiss_gpu(view: Any) -> tuple[Any, Any] | None:
    import faiss

    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() <= 0:
        return None
    import faiss.contrib.torch_utils  # noqa: F401  (torch tensors in index.search)

    res = faiss.StandardGpuResources()
    return res, faiss.index_cpu_to_gpu(res, 0, view.index)


def check_knn(device: torch.device, quick: bool, root: Path) -> list[dict[str, Any]]:
    from backpack.models.knn import nearest

    sizes = [(200, 16)] if quick else [(3000, 256), (100_000, 256)]
    queries = [8] if quick else [128, 512]
    rounds = 2 if quick else 20
    out = []
    for count, dim in sizes:
        view = _view(root / f"knn-{count}", count, dim)
        unit = torch.nn.functional.normalize(torch.from_numpy(view.prototypes.copy()), dim=1).to(device)
        gpu = _faiss_gpu(view) if device.type == "cuda" else None
        for q_n in queries:
            q_cpu = torch.randn(q_n, dim, generator=torch.Generator().manual_seed(q_n))
            q = q_cpu.to(device)
            qn = torch.nn.functional.normalize(q, dim=1)
            ids = view.search(q, K)[1]
            assert torch.equal(ids.cpu().sort(dim=1).values, view.search(q_cpu, K)[1].sort(dim=1).values)
            row: dict[str, Any] = {
                "count": count,
                "dim": dim,
                "queries": q_n,
                "store_device_ms": timed(lambda: view.search(q, K), device, rounds),  # noqa: B023 (timed at once)
                "torch_path_ms": timed(lambda: nearest(q, unit, K), device, rounds),  # noqa: B023 (timed at once)
                "store_cpu_ms": timed(lambda: view.search(q_cpu, K), torch.device("cpu"), rounds),  # noqa: B023 (timed at once)
                "faiss_gpu_ms": timed(lambda: gpu[1].search(qn, K), device, rounds) if gpu else None,  # noqa: B023 (timed at once)
            }
            flops = 2.0 * q_n * count * dim
            for key in [k for k in row if k.endswith("_ms")]:
                if row[key] is not None:
                    row[key.replace("_ms", "_gflops")] = flops / (row[key] / 1e3) / 1e9
            out.append(row)
    return out


def check_step(device: torch.device, quick: bool, root: Path) -> dict[str, Any]:
    from bench_learner import SIZES, TINY, _models

    from backpack.tasks.registry import get_task

    models, batch, _ = _models(root / "step", TINY if quick else SIZES["ego4d-256"])
    models = {n: m.to(device) for n, m in models.items()}
    batch = batch.to(device)  # type: ignore[attr-defined]
    ar = get_task("ar")
    opts = {n: torch.optim.Adam(m.parameters(), lr=1e-4) for n, m in models.items()}

    def step(name: str) -> None:
        loss = ar.loss(models[name]("ar", batch), batch)
        opts[name].zero_grad(set_to_none=True)
        loss.backward()
        opts[name].step()

    rounds = 2 if quick else 20
    ms = {n: timed(lambda n=n: step(n), device, rounds) for n in models}
    return {
        "egopack_ms": ms["egopack"],
        "mtl_ft_ms": ms["mtl_ft"],
        "egopack_over_mtl_ft": ms["egopack"] / ms["mtl_ft"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 rounds (a smoke test)")
    parser.add_argument("--out", default="gpu_check.json", help="JSON file to write")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available here. Use --device cpu for a smoke run.", file=sys.stderr)
        return 2
    os.environ.setdefault("DGLBACKEND", "pytorch")
    import faiss

    t0 = time.perf_counter()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, Any] = {
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
            "torch": torch.__version__,
            "faiss": faiss.__version__,
            "faiss_gpus": faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0,
            "quick": args.quick,
            "knn": check_knn(device, args.quick, Path(tmp)),
            "step": check_step(device, args.quick, Path(tmp)),
        }
    result["seconds"] = time.perf_counter() - t0
    out = Path(args.out)
    tmp_out = out.with_name(out.name + ".tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_out, out)  # never a half-written file
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
