"""`backpack predict`: the challenge formats, one prediction per window / clip / action, unlabelled splits."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.data import Ego4DDataset
from backpack.errors import CheckError, DataError
from backpack.pipeline import evaluate_run, train_run
from backpack.pipeline.evaluate import refuse_unlabelled
from backpack.pipeline.predict import check_predictions, predict_run
from backpack.tasks.metrics import edit_distance
from tests.tasks.handmade import write_handmade


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Hand-made data with long LTA clips (24 actions: 3 official windows per clip) and a 1-epoch run."""
    root = tmp_path_factory.mktemp("predict")
    data = write_handmade(root / "data")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_run(
            data, "ar,lta,oscc,pnr", root / "mtl", epochs=1, hidden=16, layers=1, feat_dim=8, batch_size=8,
            device="cpu", engine="native", progress=False,
        )  # fmt: skip
    finally:
        torch.set_num_threads(before)
    return {"data": data, "mtl": root / "mtl"}


def _check_formats(files: dict[str, Path], ds: Any, split: str, pnr_clips: int) -> dict[str, Any]:
    got = {t: json.loads(Path(p).read_text()) for t, p in files.items()}
    lta = got["lta"]
    # 24 val actions per clip: 3 windows, keyed by the last observed action_idx (1, 2, 3)
    assert sorted(lta) == sorted(f"val-clip-{c}_{i}" for c in (0, 1) for i in (1, 2, 3))
    for value in lta.values():
        assert set(value) == {"verb", "noun"}
        for key, classes in (("verb", 4), ("noun", 5)):
            assert len(value[key]) == 5 and all(len(seq) == 20 for seq in value[key])  # K x Z
            assert all(isinstance(x, int) and 0 <= x < classes for seq in value[key] for x in seq)
    assert [p["unique_id"] for p in got["oscc"]] == [c.unique_id for c in ds.state_clips(split)]
    assert all(
        set(p) == {"unique_id", "state_change"} and isinstance(p["state_change"], bool) for p in got["oscc"]
    )
    assert len(got["pnr"]) == pnr_clips
    for p in got["pnr"]:  # frames from parent_start_frame: node i of 16 at 240 / 16 * i
        assert set(p) == {"unique_id", "pnr_frame"} and 0 <= p["pnr_frame"] < 240
        assert (p["pnr_frame"] / 15.0).is_integer()
    assert sorted(got["ar"]) == sorted(f"{a.clip_uid}_{a.action_idx}" for a in ds.action_clips(split))
    assert all(set(v) == {"verb", "noun"} for v in got["ar"].values())
    return got


def test_predict_val_matches_the_formats_and_what_evaluate_scores(
    long_run: dict[str, Path], tmp_path: Path
) -> None:
    ds = Ego4DDataset(long_run["data"])
    summary = predict_run(
        long_run["mtl"], long_run["data"], "val", tmp_path / "sub", device="cpu", progress=False
    )
    assert summary["predictions"] == {
        "ar": 48,
        "lta": 6,
        "oscc": 8,
        "pnr": 4,
    }  # labelled split: PNR positives
    assert (
        summary["lta"] == {"windows": 6, "k": 5, "z": 20, "observed": 2, "bound": "official"}
        and summary["pnr"]["fps"] == 30.0
    )
    got = _check_formats({t: Path(p) for t, p in summary["files"].items()}, ds, "val", pnr_clips=4)
    # the file's K sequences are the ones evaluate draws: scored here, they give evaluate's verb ED
    metrics = evaluate_run(long_run["mtl"], long_run["data"], "val", device="cpu")
    by_idx = {(a.clip_uid, a.action_idx): a.verb for a in ds.action_clips("val")}
    truth, samples = [], []
    for key, value in got["lta"].items():
        clip, last = key.rsplit("_", 1)
        truth.append([by_idx[(clip, int(last) + 1 + j)] for j in range(20)])
        samples.append(value["verb"])
    ed = edit_distance(torch.tensor(samples), torch.tensor(truth))
    assert metrics["lta"]["windows"] == 6.0 and ed == pytest.approx(metrics["lta"]["verb_ed"])


def test_predict_an_unlabelled_split_and_evaluate_refuses_it(
    long_run: dict[str, Path], tmp_path: Path
) -> None:
    ds = Ego4DDataset(long_run["data"])  # "test": fho_*_test_unannotated.json, the val clips unlabelled
    summary = predict_run(long_run["mtl"], None, "test", tmp_path / "t", device="cpu", progress=False, ds=ds)
    _check_formats({t: Path(p) for t, p in summary["files"].items()}, ds, "test", pnr_clips=8)  # every clip
    with pytest.raises(DataError, match=r"has no labels .* backpack predict"):
        refuse_unlabelled(ds, "test", ["ar", "lta", "oscc", "pnr"], long_run["mtl"])
    refuse_unlabelled(ds, "val", ["ar", "lta", "oscc", "pnr"], long_run["mtl"])  # labelled: no error


def test_a_missing_or_doubled_prediction_fails_the_check() -> None:
    with pytest.raises(CheckError, match="1 missing"):
        check_predictions("lta", None, "test", {"a_1": {}}, ["a_1", "a_2"])
    with pytest.raises(CheckError, match="predicted twice"):
        check_predictions("oscc", None, "test", [{"unique_id": "u"}, {"unique_id": "u"}], ["u"])


def test_predict_cli_json_one_task_and_bad_input(long_run: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["predict", str(long_run["mtl"]), "--data", str(long_run["data"]), "--split", "val"]
    res = runner.invoke(cli, [*args, "--task", "lta", "--out", str(tmp_path / "lta.json"), "--json"])
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)  # only JSON on stdout
    assert summary["files"] == {"lta": str(tmp_path / "lta.json")} and summary["lta"]["windows"] == 6
    assert len(json.loads((tmp_path / "lta.json").read_text())) == 6
    res = runner.invoke(cli, [*args, "--task", "nope", "--out", str(tmp_path / "x.json")])
    assert res.exit_code == 2 and "Invalid value for '--task'" in res.stderr and "Traceback" not in res.stderr


def test_zero_lta_windows_is_nan_with_a_count_in_evaluate_and_an_error_in_predict(
    long_run: dict[str, Path], tmp_path: Path
) -> None:
    short = write_handmade(tmp_path / "short", {"train": 25, "val": 21})  # 21 < N + Z actions
    with pytest.warns(UserWarning, match="22 actions"):
        metrics = evaluate_run(long_run["mtl"], short, "val", device="cpu")
    assert metrics["lta"]["windows"] == 0.0 and math.isnan(metrics["lta"]["verb_ed"])
    with pytest.raises(DataError, match="No 'lta' sample .* 22 actions"):
        predict_run(
            long_run["mtl"], short, "val", tmp_path / "p.json", tasks=["lta"], device="cpu", progress=False
        )


def test_evaluate_text_shows_the_counts_and_fps(long_run: dict[str, Path]) -> None:
    res = CliRunner().invoke(
        cli, ["evaluate", str(long_run["mtl"]), "--data", str(long_run["data"]), "--device", "cpu"]
    )
    assert res.exit_code == 0, res.stderr
    assert (
        "windows 6" in res.stdout
        and "clips 4, fps 30" in res.stdout
        and "lta (fraction): verb_ed 0." in res.stdout
    )


def test_challenge_lta_windows_leave_out_each_clips_last_window(
    long_run: dict[str, Path], tmp_path: Path
) -> None:
    runner = CliRunner()
    args = [
        "predict",
        str(long_run["mtl"]),
        "--data",
        str(long_run["data"]),
        "--split",
        "val",
        "--task",
        "lta",
    ]
    res = runner.invoke(
        cli, [*args, "--lta-windows", "challenge", "--out", str(tmp_path / "c.json"), "--json"]
    )
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["lta"]["bound"] == "challenge"
    # 24 actions, N + Z = 22: windows 0 and 1 (last observed action_idx 1, 2), not window 2
    assert sorted(json.loads((tmp_path / "c.json").read_text())) == [
        f"val-clip-{c}_{i}" for c in (0, 1) for i in (1, 2)
    ]
    res = runner.invoke(cli, [*args, "--out", str(tmp_path / "o.json")])  # the registry's task is unchanged
    assert res.exit_code == 0 and len(json.loads((tmp_path / "o.json").read_text())) == 6


def test_evaluate_cli_on_an_unlabelled_split_exits_2_and_points_at_predict(
    long_run: dict[str, Path],
) -> None:
    args = ["evaluate", str(long_run["mtl"]), "--data", str(long_run["data"]), "--split", "test"]
    res = CliRunner().invoke(cli, [*args, "--device", "cpu"])
    assert res.exit_code == 2 and "Traceback" not in res.stderr
    assert "has no labels" in res.stderr and "backpack predict" in res.stderr and res.stderr.count("\n") == 1
