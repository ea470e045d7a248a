"""``--tensorboard DIR`` of `train` and `learn`: one line when the package is missing (exit 2, before
any work), and per epoch the same numbers as metrics.jsonl (checked with a fake SummaryWriter)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from backpack.cli.main import cli
from backpack.pipeline import tensorboard_log
from tests.training.test_cli import SMALL, runner


class FakeWriter:
    """Records what a ``torch.utils.tensorboard.SummaryWriter`` would write."""

    made: list[FakeWriter] = []

    def __init__(self, log_dir: str) -> None:
        self.log_dir, self.scalars, self.closed = log_dir, [], False
        FakeWriter.made.append(self)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_tensorboard(monkeypatch: pytest.MonkeyPatch) -> type[FakeWriter]:
    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = FakeWriter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    monkeypatch.setattr(tensorboard_log, "_has_tensorboard", lambda: True)
    FakeWriter.made = []
    return FakeWriter


def _expected(metrics_jsonl: Path) -> list[tuple[str, float, int]]:
    out = []
    for line in metrics_jsonl.read_text().splitlines():
        rec: dict[str, Any] = json.loads(line)
        out.append(("loss/train", rec["loss"], rec["epoch"]))
        out += [(f"loss/{t}", v, rec["epoch"]) for t, v in rec["train_loss"].items()]
        for task, metrics in rec["val"].items():
            out += [(f"val/{task}/{m}", v, rec["epoch"]) for m, v in metrics.items() if v is not None]
    return out


def test_missing_package_fails_before_training(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tensorboard_log, "_has_tensorboard", lambda: False)
    out = tmp_path / "r"
    args = ["train", "--data", str(tiny_data), "--tasks", "oscc", "--out", str(out), *SMALL]
    r = runner().invoke(cli, [*args, "--tensorboard", str(tmp_path / "tb")])
    assert r.exit_code == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "pip install tensorboard" in r.stderr and "'tensorboard'" in r.stderr
    assert not out.exists() and not (tmp_path / "tb").exists()  # nothing trained, nothing written


def test_train_writes_the_scalars_of_metrics_jsonl(
    tiny_data: Path, tmp_path: Path, fake_tensorboard: type[FakeWriter]
) -> None:
    out, tb = tmp_path / "r", tmp_path / "tb"
    args = ["train", "--data", str(tiny_data), "--tasks", "oscc,pnr", "--out", str(out), "--epochs", "2"]
    r = runner().invoke(cli, [*args, *SMALL, "--tensorboard", str(tb), "--json"])
    assert r.exit_code == 0, r.stderr
    (writer,) = fake_tensorboard.made
    assert writer.log_dir == str(tb) and writer.closed
    expected = _expected(out / "metrics.jsonl")
    assert {s for _, _, s in expected} == {1, 2} and any(t.startswith("val/oscc/") for t, _, _ in expected)
    assert writer.scalars == expected  # JSON keeps a float exactly: the same numbers, in the same order


def test_scalars_leave_out_what_has_no_value() -> None:
    rec = {"epoch": 3, "loss": 0.5, "train_loss": {"pnr": 0.5}, "val": {"pnr": {"loc_error_s": None}}}
    assert tensorboard_log.scalars(rec) == {"loss/train": 0.5, "loss/pnr": 0.5}


def test_learn_missing_package_fails_before_reading_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tensorboard_log, "_has_tensorboard", lambda: False)
    args = ["learn", "--task", "oscc", "--data", str(tmp_path), "--from", str(tmp_path), "--no-backpack"]
    r = runner().invoke(cli, [*args, "--out", str(tmp_path / "o"), "--tensorboard", str(tmp_path / "tb")])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "pip install tensorboard" in r.stderr
