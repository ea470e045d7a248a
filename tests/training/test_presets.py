"""`--preset paper`: the paper's recipe (section 4) for `train` and `learn`; explicit flags still win."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.errors import ConfigError
from backpack.pipeline.presets import preset_settings


def test_paper_recipe_per_task() -> None:
    assert preset_settings("paper", ["ar"], learn=True) == {
        "epochs": 30, "lr": 1e-4, "batch_size": 16, "base_lr_scale": 1.0,
    }  # fmt: skip
    assert preset_settings("paper", ["lta"])["epochs"] == 40
    assert preset_settings("paper", ["oscc"]) == {"epochs": 10, "lr": 1e-6, "batch_size": 16}
    assert preset_settings("paper", ["pnr"]) == {"epochs": 10, "lr": 1e-6, "batch_size": 16}
    # several tasks: the longest epochs and the largest lr among them
    assert preset_settings("paper", ["ar", "lta", "pnr"]) == {"epochs": 40, "lr": 1e-4, "batch_size": 16}
    assert preset_settings("default", ["ar"]) == {}
    with pytest.raises(ConfigError, match="'--preset'"):
        preset_settings("fast", ["ar"])


def test_train_preset_paper_with_an_explicit_epoch_count(tiny_data: Path, tmp_path: Path) -> None:
    args = ["train", "--data", str(tiny_data), "--tasks", "oscc", "--out", str(tmp_path / "r")]
    extra = ["--preset", "paper", "--epochs", "1", "--hidden", "16", "--feat-dim", "8", "--device", "cpu"]
    res = CliRunner().invoke(cli, [*args, *extra, "--graph-engine", "native", "--json"])
    assert res.exit_code == 0, res.stderr
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (config["epochs"], config["lr"], config["batch_size"]) == (1, 1e-6, 16)  # --epochs given: it wins


def test_preset_is_documented_in_help() -> None:
    for cmd in ("train", "learn"):
        res = CliRunner().invoke(cli, [cmd, "--help"])
        assert res.exit_code == 0 and "--preset" in res.stdout and "paper" in res.stdout
