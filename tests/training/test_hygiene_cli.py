"""The CLI flags of node inputs, hygiene and selection, and ``synth --world``."""

from __future__ import annotations

import json
from pathlib import Path

from backpack.cli.main import cli
from tests.training.test_cli import SMALL, runner


def test_train_flags_are_recorded_and_evaluate_says_which_weights(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(tiny_data), "--tasks", "ar", "--out", str(out), "--epochs", "2", *SMALL]
    flags = [
        "--node-input",
        "mean",
        "--no-standardize",
        "--weight-decay",
        "0.01",
        "--select-metric",
        "ar.noun_top1",
    ]
    r = runner().invoke(cli, args + flags + ["--json"])
    assert r.exit_code == 0, r.output
    config = json.loads((out / "config.json").read_text())
    assert (config["node_input"], config["standardize"], config["weight_decay"]) == ("mean", False, 0.01)
    assert config["select_metric"] == "ar.noun_top1" and (out / "best.json").is_file()
    r = runner().invoke(
        cli,
        [
            "evaluate",
            str(out),
            "--data",
            str(tiny_data),
            "--device",
            "cpu",
            "--select",
            "best",
            "--probe",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)
    assert set(metrics) == {"ar", "linear_probe"} and set(metrics["linear_probe"]["ar"]) == {
        "verb_top1",
        "noun_top1",
    }
    best = json.loads((out / "best.json").read_text())
    assert f"Using the best epoch ({best['epoch']}" in r.stderr


def test_bad_node_input_is_a_usage_error(tiny_data: Path, tmp_path: Path) -> None:
    args = [
        "train",
        "--data",
        str(tiny_data),
        "--tasks",
        "ar",
        "--out",
        str(tmp_path / "r"),
        "--node-input",
        "max",
    ]
    r = runner().invoke(cli, args)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_synth_world_noisy(tmp_path: Path) -> None:
    r = runner().invoke(cli, ["synth", "--out", str(tmp_path / "d"), "--world", "noisy", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["world"] == "noisy" and summary["actions"]["train"] > 0
