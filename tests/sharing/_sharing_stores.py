"""Seeded stores for the sharing tests (a module with a unique name: importable from any test folder)."""

from __future__ import annotations

from typing import Any

import numpy as np


def make_task_arrays(seed: int, count: int = 300, dim: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded prototypes [count, dim] float32, keys [count, 2] int32, support [count] int64."""
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((count, dim)).astype(np.float32)
    keys = np.stack([np.arange(count) % 10, np.arange(count) // 10], axis=1).astype(np.int32)
    support = rng.integers(1, 50, size=count).astype(np.int64)
    return protos, keys, support


VERBS = [f"v{i}" for i in range(10)]
NOUNS = [f"n{i}" for i in range(30)]
TASKS = ("ar", "lta", "oscc", "pnr")


def make_four_task_store(
    url: str, storage_options: dict[str, Any] | None, count: int = 300, dim: int = 64
) -> dict:
    """A store with one version of 4 tasks; returns {task: prototypes} for checking search results."""
    from backpack.store import Backpack

    bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=storage_options)
    protos = {}
    with bp.new_version(message="four tasks") as v:
        for i, task in enumerate(TASKS):
            p, k, s = make_task_arrays(i, count, dim)
            v.add_task(task, p, k, s, index="flat")
            protos[task] = p
    bp.close()
    return protos
