"""Fixtures of the learner tests."""

from __future__ import annotations

from collections.abc import Callable

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
