"""`backpack evaluate` on a run of `backpack learn`: same metrics as learning reported; `--store` rules."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from backpack.cli.main import cli


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_evaluate_cli_reads_a_learner_run(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    w = tiny_world
    code, out, err = _run(
        "learn",
        "--task",
        "oscc",
        "--data",
        str(w["data"]),
        "--from",
        str(w["mtl"]),
        "--store",
        f"{w['store']}@v1",
        "--out",
        str(tmp_path / "ego"),
        "--k",
        "2",
        "--epochs",
        "1",
        "--json",
    )
    assert code == 0, err
    learned = json.loads(out)["val"]["oscc"]["accuracy"]

    code, out, err = _run("evaluate", str(tmp_path / "ego"), "--data", str(w["data"]), "--json")
    assert code == 0, err
    assert json.loads(out) == {"oscc": {"accuracy": learned}}

    # evaluating on purpose against an explicit store version works too
    code, out, err = _run(
        "evaluate", str(tmp_path / "ego"), "--data", str(w["data"]), "--store", f"{w['store']}@1", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["oscc"]["accuracy"] == learned


def test_evaluate_store_flag_is_refused_for_a_multitask_run(tiny_world: dict[str, Path]) -> None:
    code, out, err = _run(
        "evaluate",
        str(tiny_world["mtl"]),
        "--data",
        str(tiny_world["data"]),
        "--store",
        str(tiny_world["store"]),
    )
    assert code == 2 and "--store applies only to runs of `backpack learn`" in err and out == ""


def test_learn_resume_continues_to_the_same_result(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    w = tiny_world
    base = [
        "learn",
        "--task",
        "oscc",
        "--data",
        str(w["data"]),
        "--from",
        str(w["mtl"]),
        "--store",
        f"{w['store']}@v1",
        "--k",
        "2",
        "--seed",
        "4",
        "--json",
    ]
    code, full, err = _run(*base, "--out", str(tmp_path / "full"), "--epochs", "2")
    assert code == 0, err
    # an interrupted run: stopped after its first epoch, then resumed to the second
    code, _, err = _run(*base, "--out", str(tmp_path / "part"), "--epochs", "1")
    assert code == 0, err
    code, resumed, err = _run(*base, "--out", str(tmp_path / "part"), "--epochs", "2", "--resume")
    assert code == 0, err
    assert json.loads(resumed)["val"] == json.loads(full)["val"]
    assert json.loads(resumed)["loss"] == json.loads(full)["loss"]

    # other settings than the interrupted run's are refused, naming the field; nothing is changed
    code, out, err = _run(
        *base[:-1], "--out", str(tmp_path / "part"), "--epochs", "3", "--k", "1", "--resume"
    )
    assert code == 2 and "settings differ in ['k']" in err and out == ""
    # without --resume a used folder is refused
    code, _, err = _run(*base, "--out", str(tmp_path / "part"), "--epochs", "2")
    assert code == 2 and "--resume" in err


def test_learn_records_the_base_lr_scale(tiny_world: dict[str, Path], tmp_path: Path) -> None:
    w = tiny_world
    code, _, err = _run(
        "learn",
        "--task",
        "oscc",
        "--data",
        str(w["data"]),
        "--from",
        str(w["mtl"]),
        "--store",
        f"{w['store']}@v1",
        "--out",
        str(tmp_path / "r"),
        "--epochs",
        "1",
        "--base-lr-scale",
        "0.5",
        "--json",
    )
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "learner.json").read_text())["base_lr_scale"] == 0.5
    code, _, err = _run(
        "learn",
        "--task",
        "oscc",
        "--data",
        str(w["data"]),
        "--from",
        str(w["mtl"]),
        "--no-backpack",
        "--out",
        str(tmp_path / "bad"),
        "--base-lr-scale",
        "0",
    )
    assert code == 2 and "--base-lr-scale" in err
