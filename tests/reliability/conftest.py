"""Fixtures of the reliability tests: one warm fork server (rel_worker.py serve) per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.rel_common import ForkServer


@pytest.fixture(scope="session")
def server() -> Iterator[ForkServer]:
    """Runs commands in forked children of a process that already imported numpy, zarr and faiss."""
    with ForkServer() as fs:
        yield fs
