"""Fixtures of the training tests: a tiny finished run (``tiny_data`` comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

TINY_MODEL = dict(hidden=32, layers=2, feat_dim=16, batch_size=8)


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread: None) -> Iterator[None]:
    yield  # every test here on one torch thread (fixture in tests/conftest.py)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    """A finished 2-epoch, 4-task run on the native engine (tests must not modify it; copy it first)."""
    import torch

    from backpack.pipeline import train_run

    out = tmp_path_factory.mktemp("runs") / "mtl"
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as every test here (see torch_one_thread)
    try:
        train_run(
            tiny_data,
            "ar,lta,oscc,pnr",
            out,
            epochs=2,
            seed=0,
            device="cpu",
            engine="native",
            progress=False,
            **TINY_MODEL,
        )
    finally:
        torch.set_num_threads(before)
    return out


@pytest.fixture
def tiny_kw() -> dict:
    """Model and batch sizes of the tiny runs."""
    return dict(TINY_MODEL)
