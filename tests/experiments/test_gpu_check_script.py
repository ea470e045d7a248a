"""experiments/gpu_check.py: its device-independent parts, run on the CPU."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

Loader = Callable[[str], ModuleType]


def test_quick_cpu_run_writes_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_one_thread: None, load_script: Loader
) -> None:
    out = tmp_path / "gpu.json"
    assert load_script("gpu_check").main(["--device", "cpu", "--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result
    assert result["device"] == "cpu" and result["quick"] is True
    assert not list(tmp_path.glob("*.tmp"))  # written through a temp file, renamed
    (row,) = result["knn"]
    assert (row["count"], row["dim"], row["queries"]) == (200, 16, 8)
    assert row["faiss_gpu_ms"] is None  # no faiss GPU on the CPU
    for key in ("store_device_ms", "torch_path_ms", "store_cpu_ms"):
        assert row[key] > 0 and row[key.replace("_ms", "_gflops")] > 0
    step = result["step"]
    assert step["egopack_ms"] > 0 and step["mtl_ft_ms"] > 0
    assert step["egopack_over_mtl_ft"] == pytest.approx(step["egopack_ms"] / step["mtl_ft_ms"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_requested_without_cuda_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], load_script: Loader
) -> None:
    out = tmp_path / "gpu.json"
    assert load_script("gpu_check").main(["--out", str(out)]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert not out.exists()


def test_timed_takes_the_median_after_a_warm_up(load_script: Loader) -> None:
    calls = []
    ms = load_script("gpu_check").timed(lambda: calls.append(1), torch.device("cpu"), rounds=3)
    assert len(calls) == 4 and ms >= 0
