"""Fixtures of the training tests: one tiny synthetic dataset per session (read-only for tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# small enough that a 2-epoch, 4-task run takes a few seconds on 2 cores
TINY = dict(dim=32, num_verbs=6, num_nouns=8, lta_videos=(3, 2), oscc_clips=(32, 16), video_seconds=(60.0, 90.0))
TINY_MODEL = dict(hidden=32, layers=2, feat_dim=16, batch_size=8)


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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    """A finished 2-epoch, 4-task run on the native engine (tests must not modify it; copy it first)."""
    from backpack.training import train_run

    out = tmp_path_factory.mktemp("runs") / "mtl"
    with one_thread():
        train_run(tiny_data, "ar,lta,oscc,pnr", out, epochs=2, seed=0, device="cpu", engine="native",
                  progress=False, **TINY_MODEL)
    return out


@pytest.fixture
def tiny_kw() -> dict:
    """Model and batch sizes of the tiny runs."""
    return dict(TINY_MODEL)
