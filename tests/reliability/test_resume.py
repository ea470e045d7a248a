"""Kill ``backpack train`` and ``backpack learn`` mid-epoch; ``--resume`` ends with the same metrics
as an uninterrupted run with the same seed (CPU).

Slow (each CLI run imports torch and trains on the synthetic data): run by ``make test-all``.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.rel_common import worker_env

pytestmark = pytest.mark.slow

SMALL = ["--epochs", "3", "--hidden", "16", "--device", "cpu", "--seed", "3", "--json"]


def _cli(*args: str, timeout: float = 900) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "backpack.cli.main", *args],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _epoch(run: Path) -> int:
    try:
        return int(json.loads((run / "checkpoint.json").read_text())["epoch"])
    except (FileNotFoundError, ValueError, KeyError):
        return 0


def _kill_mid_epoch(args: list[str], run: Path, seed: int, epochs: int = 3, delay: float = 0.6) -> None:
    """Start the command, wait for the checkpoint of epoch 1, SIGKILL it during a later epoch."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "backpack.cli.main", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=worker_env(),
    )
    try:
        deadline = time.monotonic() + 900
        while _epoch(run) < 1:
            assert proc.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(random.Random(seed).uniform(delay / 6, delay))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert 1 <= _epoch(run) < epochs, "the kill did not land inside the run"


def _metrics(result: dict) -> dict:
    return {k: v for k, v in result.items() if k not in ("run", "seconds")}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume") / "data"
    _cli("synth", "--out", str(root), "--json")
    return root


def test_train_resume_after_kill(data: Path, tmp_path: Path) -> None:
    base = ["train", "--data", str(data), "--tasks", "oscc", "--limit", "oscc=64", *SMALL]
    full = _cli(*base, "--out", str(tmp_path / "full"))
    killed = tmp_path / "killed"
    _kill_mid_epoch([*base, "--out", str(killed)], killed, seed=1)
    resumed = _cli(*base, "--out", str(killed), "--resume")
    assert _metrics(resumed) == _metrics(full)


def test_learn_resume_after_kill(data: Path, tmp_path: Path) -> None:
    mtl = tmp_path / "mtl"
    _cli("train", "--data", str(data), "--tasks", "ar", "--limit", "ar=64", *SMALL, "--out", str(mtl))
    store = tmp_path / "store"
    _cli("build", str(mtl), "--data", str(data), "--store", str(store), "--device", "cpu", "--json")
    base = [
        "learn",
        "--task",
        "oscc",
        "--data",
        str(data),
        "--from",
        str(mtl),
        "--store",
        str(store),
        "--limit",
        "64",
        "--epochs",
        "6",
        "--device",
        "cpu",
        "--seed",
        "3",
        "--json",
    ]
    full = _cli(*base, "--out", str(tmp_path / "full"))
    killed = tmp_path / "killed"
    _kill_mid_epoch([*base, "--out", str(killed)], killed, seed=2, epochs=6, delay=0.15)
    resumed = _cli(*base, "--out", str(killed), "--resume")
    assert _metrics(resumed) == _metrics(full)
