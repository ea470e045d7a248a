"""Fixtures of the learner tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch


class ExactView:
    """Implements the ``PrototypeSource`` protocol (what ``TaskView`` offers) with exact cosine."""

    def __init__(self, name: str, prototypes: np.ndarray) -> None:
        self.name = name
        self.prototypes = np.asarray(prototypes, dtype=np.float32)
        self.count, self.dim = self.prototypes.shape
        self.calls = 0

    def search(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        p = torch.nn.functional.normalize(torch.from_numpy(self.prototypes), dim=1)
        q = torch.nn.functional.normalize(queries.detach().cpu().float(), dim=1)
        return torch.topk(q @ p.T, k, dim=1)


@pytest.fixture
def make_views() -> Callable[..., dict[str, ExactView]]:
    """Factory of {task: ExactView} with seeded random prototypes."""

    def make(seed: int = 0, dims: dict[str, int] | None = None, count: int = 12) -> dict[str, ExactView]:
        rng = np.random.default_rng(seed)
        dims = dims or {"ar": 8, "pnr": 6}
        return {t: ExactView(t, rng.standard_normal((count, d)).astype(np.float32)) for t, d in dims.items()}

    return make


TINY = dict(
    dim=16, num_verbs=4, num_nouns=6, lta_videos=(3, 2), oscc_clips=(24, 12), video_seconds=(90.0, 110.0)
)


@pytest.fixture(scope="session")
def tiny_size() -> Any:
    """A SyntheticConfig small enough for tests (seconds), with LTA clips long enough for samples."""
    from backpack.data import SyntheticConfig

    return SyntheticConfig(**TINY)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny synthetic data, a 1-epoch multi-task run (ar, lta, pnr) and a store built from it."""
    from backpack.data import Ego4DDataset, SyntheticConfig, write_synthetic
    from backpack.pipeline import load_run, train_run
    from backpack.pipeline.build import build_prototypes

    root = tmp_path_factory.mktemp("learner")
    data = write_synthetic(root / "data", seed=0, size=SyntheticConfig(**TINY))
    train_run(
        data, "ar,lta,pnr", root / "mtl", epochs=1, hidden=32, feat_dim=16, device="cpu", progress=False
    )
    build_prototypes(
        load_run(root / "mtl"), Ego4DDataset(data), str(root / "store"), tag="v1", progress=False
    )
    return {"root": root, "data": data, "mtl": root / "mtl", "store": root / "store"}
