"""Shared data and helpers of the store CLI tests (test_store_cli*.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from backpack.cli.main import cli
from backpack.store import Backpack

VERBS = [f"verb{i}" for i in range(10)]
NOUNS = [f"noun{i}" for i in range(25)]


def make_task(seed: int, count: int, dim: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    flat = rng.choice(len(VERBS) * len(NOUNS), size=count, replace=False)
    return {
        "prototypes": rng.normal(size=(count, dim)).astype(np.float32),
        "keys": np.stack([flat // len(NOUNS), flat % len(NOUNS)], axis=1).astype(np.int32),
        "support": rng.integers(1, 40, size=count).astype(np.int64),
    }


TASKS = {"ar1": make_task(1, 30, 16), "lta": make_task(2, 20, 8), "ar2": make_task(3, 30, 16)}


def build_store(path: Path) -> Path:
    """v1: ar (seed 1), lta; v2: ar replaced (seed 3); tag stable -> 1."""
    bp = Backpack.create(path, verbs=VERBS, nouns=NOUNS)
    with bp.new_version(message="first") as v:
        v.add_task("ar", **TASKS["ar1"])
        v.add_task("lta", **TASKS["lta"])
    with bp.new_version(message="replace ar") as v:
        v.add_task("ar", **TASKS["ar2"])
    bp.tag("stable", 1)
    return path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("cli") / "store")


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the reference store that a test may change."""
    return Path(shutil.copytree(pristine, tmp_path / "store"))


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def run_json(*args: Any) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # stdout holds JSON only


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
