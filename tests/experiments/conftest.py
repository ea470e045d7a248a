"""Fixtures of the tests of the scripts in experiments/ (they are files, not an importable package)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def load_script() -> Callable[[str], ModuleType]:
    """``load_script("gpu_check")`` imports ``experiments/gpu_check.py`` afresh."""
    return _load
