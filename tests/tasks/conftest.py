"""Fixtures of the task tests: one tiny synthetic dataset per session (read-only for tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# small enough that every task builds its graphs in well under a second
TINY = dict(dim=32, num_verbs=6, num_nouns=8, lta_videos=(3, 2), oscc_clips=(32, 16), video_seconds=(60.0, 90.0))


@contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models run as fast on one thread, and 2-thread OpenMP spin-waits badly on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic dataset in the Ego4D layout (seed 0)."""
    from backpack.tasks.data import SIZES, write_synthetic
    from backpack.tasks.data.synthetic import with_overrides

    return write_synthetic(tmp_path_factory.mktemp("tiny") / "data", seed=0, size=with_overrides(SIZES["small"], **TINY))
