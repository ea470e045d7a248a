"""Checkpoints and feature files crafted to run code when unpickled are refused, and nothing runs.

Each crafted file is a real ``torch.save`` pickle whose object's ``__reduce__`` would create a
marker file; the checkpoint's ``checkpoint.json`` is updated with the file's true sha256, so only
the refusal to unpickle can stop it (not a checksum).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from backpack.errors import BackpackError, DataError, RunError  # noqa: E402
from backpack.pipeline.checkpoint import (  # noqa: E402
    CHECKPOINT,
    OPTIMIZER,
    WEIGHTS,
    load_checkpoint,
    save_checkpoint,
    sha256_file,
)


class _Evil:
    """Unpickling this calls ``os.system('touch MARKER')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _evil_file(path: Path, marker: Path) -> None:
    torch.save({"weight": torch.zeros(2, 2), "payload": _Evil(marker)}, path)
    assert not marker.exists()


@pytest.fixture
def run(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "run", model, opt, epoch=1, history=[{"epoch": 1}])
    return tmp_path / "run"


def test_the_payload_really_runs_when_unpickled(tmp_path: Path) -> None:
    """Control: the crafted file does run code under a plain unpickler (so the refusals mean something)."""
    marker = tmp_path / "pwned"
    _evil_file(tmp_path / "evil.pt", marker)
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("target", [WEIGHTS, OPTIMIZER])
def test_pickled_checkpoint_file_is_refused(run: Path, tmp_path: Path, target: str) -> None:
    marker = tmp_path / "pwned"
    _evil_file(run / target, marker)
    info = json.loads((run / CHECKPOINT).read_text())
    info["sha256"][target] = sha256_file(run / target)  # the checksum matches: only unpickling is left
    (run / CHECKPOINT).write_text(json.dumps(info))
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    with pytest.raises(RunError, match="safetensors") as err:
        load_checkpoint(run, model, opt)
    assert target in str(err.value)
    assert not marker.exists(), "the checkpoint ran code on load"


def test_pickled_run_weights_are_refused_by_load_run(run: Path, tmp_path: Path) -> None:
    from backpack.pipeline.runs import load_run

    marker = tmp_path / "pwned"
    _evil_file(run / WEIGHTS, marker)
    with pytest.raises(BackpackError):
        load_run(run)  # no config.json here: refused either way, and never unpickled
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".pt", ".npy"])
def test_pickled_feature_file_is_refused(tmp_path: Path, suffix: str) -> None:
    from backpack.data.features import read_feature_file

    marker = tmp_path / "pwned"
    path = tmp_path / f"video{suffix}"
    if suffix == ".pt":
        _evil_file(path, marker)
    else:
        import numpy as np

        np.save(path, np.array([_Evil(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=path.name):
        read_feature_file(path)
    assert not marker.exists(), "a feature file ran code on load"
