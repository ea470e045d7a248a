"""Ctrl-C during `build` and `learn`: one line saying what was kept and how to go on, exit 130.

The interrupt is raised from a function the command calls mid-run (no timing involved).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.store import Backpack


def _interrupted_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr and "Aborted!" not in stderr
    return [line for line in stderr.splitlines() if "Interrupted" in line]


def test_interrupted_build_keeps_the_store_unchanged(
    tiny_world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backpack.models.accumulator import PrototypeAccumulator

    store = shutil.copytree(tiny_world["store"], tmp_path / "store")
    before = list(Backpack.open(store).versions())

    def stop(self, keys, feats):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt  # Ctrl-C during the forward pass over the AR clips

    monkeypatch.setattr(PrototypeAccumulator, "update", stop)
    args = ["build", str(tiny_world["mtl"]), "--data", str(tiny_world["data"]), "--store", str(store)]
    r = CliRunner().invoke(cli, [*args, "--json"])
    assert r.exit_code == 130, r.stderr
    (line,) = _interrupted_lines(r.stderr)
    assert (
        f"No new version: the store {store} is unchanged (its latest version is still {before[-1]})" in line
    )
    assert "Continue with: backpack build " in line and "--resume" not in line
    assert r.stdout == ""
    assert list(Backpack.open(store).versions()) == before


def test_interrupted_learn_names_its_last_epoch_and_the_resume_command(
    tiny_world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backpack.pipeline import trainer

    real = trainer.save_checkpoint

    def save_then_stop(out, model, optimizer, epoch, *a, **k):  # type: ignore[no-untyped-def]
        if epoch == 2:
            raise KeyboardInterrupt  # Ctrl-C in epoch 2: epoch 1 is on disk
        return real(out, model, optimizer, epoch, *a, **k)

    monkeypatch.setattr(trainer, "save_checkpoint", save_then_stop)
    out = tmp_path / "oscc"
    args = ["learn", "--task", "oscc", "--data", str(tiny_world["data"]), "--from", str(tiny_world["mtl"])]
    args += ["--store", f"{tiny_world['store']}@v1", "--out", str(out), "--epochs", "3", "--quiet"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 130, r.stderr
    (line,) = _interrupted_lines(r.stderr)
    assert f"Epoch 1 of 3 is the last one saved in {out}." in line
    assert line.endswith("--resume") and "backpack learn --task oscc" in line
    monkeypatch.setattr(trainer, "save_checkpoint", real)
    resumed = CliRunner().invoke(cli, [*args, "--resume", "--json"])
    assert resumed.exit_code == 0, resumed.stderr
