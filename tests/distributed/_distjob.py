"""What each torchrun worker of the distributed tests runs (not collected: no ``test_`` prefix).

``python _distjob.py SCENARIO OUT [ARGS...]``; rank 0 writes ``OUT/result.json``. Failures are
reported through :func:`backpack.cli.worker.run_as_rank`, like the real CLI worker.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from backpack.cli.worker import exit_now, run_as_rank

TRAIN_OPTIONS = dict(epochs=2, hidden=32, layers=1, feat_dim=16, dropout=0.0, lr=3e-3, batch_size=8, seed=0)


def _write(out: str, obj: dict) -> None:
    from backpack.distributed import is_main_process

    if is_main_process():
        path = Path(out) / "result.json"
        path.write_text(json.dumps(obj))


def _fail_after(steps: int, on_rank: int) -> None:
    """Make ``on_rank`` crash in its ``steps``-th optimiser step (a failing rank mid-training)."""
    import torch

    from backpack.distributed import rank

    if rank() != on_rank:
        return
    step = torch.optim.Adam.step
    calls = {"n": 0}

    def failing(self, *a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] >= steps:
            raise RuntimeError(f"injected failure in step {calls['n']}")
        return step(self, *a, **k)

    torch.optim.Adam.step = failing  # type: ignore[method-assign]


def _forbid_writes(*roots: str) -> None:
    """On ranks other than 0, any write under ``roots`` crashes the rank (so the job fails)."""
    from backpack.distributed import is_main_process

    if is_main_process():
        return
    guarded = tuple(os.path.realpath(r) + os.sep for r in roots)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def inside(path: object) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return False
        p = os.path.realpath(os.fsdecode(path)) + os.sep
        return p.startswith(guarded)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & write_flags
            )
            if writing and inside(path):
                raise PermissionError(f"rank != 0 tried to write {path!r}")
        elif event in ("os.rename", "os.replace", "os.remove", "os.mkdir", "os.link", "os.rmdir"):
            if any(inside(a) for a in args[:2]):
                raise PermissionError(f"rank != 0 tried {event} on {args[:2]!r}")

    sys.addaudithook(hook)


def train(data: str, run_dir: str, fail_steps: str = "0") -> dict:
    """``train_run`` on ``data`` into ``run_dir`` (rank 1 crashes after ``fail_steps`` steps if > 0)."""
    from backpack.distributed import world_size
    from backpack.pipeline.train import train_run

    if int(fail_steps):
        _fail_after(int(fail_steps), on_rank=1)
    _forbid_writes(run_dir)
    run = train_run(data, "ar,oscc", run_dir, progress=False, **TRAIN_OPTIONS)
    return {"world_size": world_size(), "history": run.metrics_history}


def build(run_dir: str, data: str, store: str) -> dict:
    """``build_prototypes`` of ``run_dir`` into ``store`` (tagged ``dist``)."""
    from backpack.data import Ego4DDataset
    from backpack.distributed import world_size
    from backpack.pipeline.build import build_prototypes
    from backpack.pipeline.runs import load_run

    _forbid_writes(run_dir, store)
    version = build_prototypes(load_run(run_dir), Ego4DDataset(data), store, tag="dist", progress=False)
    return {"world_size": world_size(), "version": version}


def build_fail(run_dir: str, data: str, store: str) -> dict:
    """``build`` where rank 1 crashes while forwarding its shard (before the all-reduce)."""
    from backpack.distributed import rank
    from backpack.models.accumulator import PrototypeAccumulator

    if rank() == 1:

        def failing(self, *a, **k):  # type: ignore[no-untyped-def]
            raise RuntimeError("injected failure while forwarding")

        PrototypeAccumulator.update = failing  # type: ignore[method-assign]
    return build(run_dir, data, store)


def train_build(data: str, run_dir: str, store: str) -> dict:
    """Train on every rank, then build the prototypes of the trained run into ``store``."""
    return {**train(data, run_dir), **build(run_dir, data, store)}


SCENARIOS = {"train": train, "build": build, "build_fail": build_fail, "train_build": train_build}

if __name__ == "__main__":
    scenario, out, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    exit_now(run_as_rank(lambda: _write(out, SCENARIOS[scenario](*args))))
