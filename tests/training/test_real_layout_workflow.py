"""The whole CLI workflow on a download in the real Ego4D layout (hand-made from the schema).

train (AR, LTA, PNR) -> build -> learn OSCC from the store -> evaluate both runs with the official
metrics -> predict the unlabelled test split of both runs: every step exits 0 on data that backpack's
synthetic writer did not produce.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.data import Ego4DDataset
from tests.tasks.handmade import write_handmade

TINY = ["--hidden", "16", "--layers", "1", "--feat-dim", "8", "--batch-size", "8", "--graph-engine", "native"]


def _ok(runner: CliRunner, args: list[str]) -> dict:
    res = runner.invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, (args[0], res.stderr)
    return json.loads(res.stdout)


@pytest.mark.usefixtures("torch_one_thread")
def test_train_build_learn_evaluate_predict_on_the_real_layout(tmp_path: Path) -> None:
    data = write_handmade(tmp_path / "data")
    runner, mtl, ego, store = CliRunner(), tmp_path / "mtl", tmp_path / "ego", tmp_path / "store"
    common = ["--data", str(data), "--device", "cpu"]
    _ok(runner, ["train", "--tasks", "ar,lta,pnr", *common, "--out", str(mtl), "--epochs", "1", *TINY])
    built = _ok(runner, ["build", str(mtl), *common, "--store", str(store)])
    assert built["version"] == 1
    _ok(
        runner,
        ["learn", "--task", "oscc", *common, "--from", str(mtl), "--store", f"{store}@1", "--out", str(ego),
         "--k", "2", "--epochs", "1"],
    )  # fmt: skip

    ev = _ok(runner, ["evaluate", str(mtl), *common, "--split", "val"])
    assert ev["lta"]["windows"] == 6  # 2 val clips of 24 actions: 3 official windows each
    assert ev["pnr"]["fps"] == 30.0 and 0 <= ev["pnr"]["loc_error_s"] <= 8
    assert 0 <= _ok(runner, ["evaluate", str(ego), *common, "--split", "val"])["oscc"]["accuracy"] <= 100

    ds = Ego4DDataset(data)
    test_clips = ds.state_clips("test")
    out = tmp_path / "pred"
    summary = _ok(runner, ["predict", str(ego), *common, "--split", "test", "--out", str(out / "oscc.json")])
    assert summary["predictions"] == {"oscc": len(test_clips)}
    preds = json.loads((out / "oscc.json").read_text())
    assert sorted(p["unique_id"] for p in preds) == sorted(c.unique_id for c in test_clips)
    summary = _ok(runner, ["predict", str(mtl), *common, "--split", "test", "--out", str(out / "mtl")])
    assert set(summary["files"]) == {"ar", "lta", "pnr"} and summary["predictions"]["pnr"] == len(test_clips)
