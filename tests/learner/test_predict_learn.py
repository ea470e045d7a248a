"""`backpack predict` on a run of `backpack learn`: its novel task, with the store version it recorded."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.data import Ego4DDataset


def test_predict_a_learn_run(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    w, runner = tiny_world, CliRunner()
    res = runner.invoke(
        cli,
        ["learn", "--task", "oscc", "--data", str(w["data"]), "--from", str(w["mtl"]), "--store",
         f"{w['store']}@v1", "--out", str(tmp_path / "ego"), "--k", "2", "--epochs", "1", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    out = tmp_path / "oscc.json"
    args = ["predict", str(tmp_path / "ego"), "--data", str(w["data"]), "--split", "val", "--out", str(out)]
    res = runner.invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)
    clips = Ego4DDataset(w["data"]).state_clips("val")
    assert summary["files"] == {"oscc": str(out)} and summary["predictions"] == {"oscc": len(clips)}
    preds = json.loads(out.read_text())
    assert [p["unique_id"] for p in preds] == [c.unique_id for c in clips]
    assert all(isinstance(p["state_change"], bool) for p in preds)
    # a learn run predicts its novel task only
    res = runner.invoke(cli, [*args, "--task", "ar"])
    assert res.exit_code == 2 and "Invalid value for '--task'" in res.stderr
