"""Seeded task data and the reference store used by the store tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from backpack.store import Backpack

VERBS = tuple(f"verb{i}" for i in range(12))
NOUNS = tuple(f"noun{i}" for i in range(30))


@dataclass
class TaskData:
    """Arrays of one task as given to ``add_task``."""

    prototypes: np.ndarray
    keys: np.ndarray
    support: np.ndarray


def make_task(seed: int, count: int = 40, dim: int = 16) -> TaskData:
    """Seeded prototypes with distinct keys inside VERBS x NOUNS."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(len(VERBS) * len(NOUNS), size=count, replace=False)
    keys = np.stack([flat // len(NOUNS), flat % len(NOUNS)], axis=1).astype(np.int32)
    return TaskData(
        rng.normal(size=(count, dim)).astype(np.float32),
        keys,
        rng.integers(1, 50, size=count).astype(np.int64),
    )


def add(v: Any, name: str, data: TaskData, **kw: Any) -> None:
    v.add_task(name, data.prototypes, data.keys, data.support, **kw)


@dataclass
class Reference:
    """A populated store and what it must contain.

    Version 1: ar (seed 1), lta (seed 2). Version 2: ar replaced (seed 3), lta inherited.
    Tag ``stable`` -> 1.
    """

    url: str
    storage_options: dict[str, Any] | None
    tasks: dict[int, dict[str, TaskData]]

    def open(self, **kw: Any) -> Backpack:
        return Backpack.open(self.url, storage_options=self.storage_options, **kw)


def populate(url: str, storage_options: dict[str, Any] | None) -> dict[int, dict[str, TaskData]]:
    bp = Backpack.create(url, verbs=VERBS, nouns=NOUNS, storage_options=storage_options)
    ar1, lta, ar2 = make_task(1), make_task(2, count=25, dim=8), make_task(3)
    prov = {"checkpoint_sha256": "ab" * 32, "dataset_fingerprint": "fp-1", "feature_extractor": "omnivore"}
    with bp.new_version(message="first", provenance=prov) as v:
        add(v, "ar", ar1)
        add(v, "lta", lta)
    with bp.new_version(message="replace ar") as v:
        add(v, "ar", ar2)
    bp.tag("stable", 1)
    bp.close()
    return {1: {"ar": ar1, "lta": lta}, 2: {"ar": ar2, "lta": lta}}


def resign(meta: dict) -> dict:
    """Recompute an edited manifest's own checksum: what a hostile writer would do, so that the
    field checks behind the checksum are what a test exercises."""
    from backpack.store.manifest import content_sha256

    if "manifest_sha256" in meta:
        meta["manifest_sha256"] = content_sha256({k: v for k, v in meta.items() if k != "manifest_sha256"})
    return meta
