"""Fixtures of the task tests (the tiny dataset ``tiny_data`` comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread: None) -> Iterator[None]:
    yield  # every test here on one torch thread (fixture in tests/conftest.py)
