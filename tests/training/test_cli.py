"""``backpack train`` / ``backpack evaluate`` through click's CliRunner (native engine: runs in both envs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backpack.cli.main import cli

SMALL = [
    "--hidden",
    "32",
    "--feat-dim",
    "16",
    "--batch-size",
    "8",
    "--graph-engine",
    "native",
    "--device",
    "cpu",
]


def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        return CliRunner()  # click >= 8.2 keeps stderr apart by default


def test_train_then_evaluate_json(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = runner().invoke(
        cli,
        [
            "train",
            "--data",
            str(tiny_data),
            "--tasks",
            "oscc,pnr",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--json",
            *SMALL,
        ],
    )
    assert r.exit_code == 0, r.stderr
    trained = json.loads(r.stdout)  # stdout holds only JSON
    assert trained["epoch"] == 1 and set(trained["val"]) == {"oscc", "pnr"}
    r = runner().invoke(
        cli,
        [
            "evaluate",
            str(out),
            "--data",
            str(tiny_data),
            "--json",
            "--device",
            "cpu",
            "--graph-engine",
            "native",
        ],
    )
    assert r.exit_code == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert set(metrics) == {"oscc", "pnr"}  # only the run's tasks
    assert set(metrics["oscc"]) == {"accuracy"} and set(metrics["pnr"]) == {"loc_error_s", "clips", "fps"}
    assert 0.0 <= metrics["oscc"]["accuracy"] <= 100.0 and metrics["pnr"]["loc_error_s"] >= 0.0
    assert metrics["oscc"]["accuracy"] == pytest.approx(trained["val"]["oscc"]["accuracy"])


def test_evaluate_text_output(tiny_run: Path, tiny_data: Path) -> None:
    r = runner().invoke(cli, ["evaluate", str(tiny_run), "--data", str(tiny_data), "--device", "cpu"])
    assert r.exit_code == 0, r.stderr
    assert "ar (%): verb_top1" in r.stdout and "lta (fraction): verb_ed" in r.stdout  # units in the header


@pytest.mark.parametrize("cmd", ["train", "evaluate"])
def test_help_has_an_example(cmd: str) -> None:
    r = runner().invoke(cli, [cmd, "--help"])
    assert r.exit_code == 0 and "Examples:" in r.stdout and f"backpack {cmd}" in r.stdout


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--tasks", "ar,nope"], "Unknown task 'nope'"),
        (["--tasks", "ar", "--limit", "ar"], "TASK=N"),
        (["--tasks", "ar", "--limit", "lta=4"], "'limit'"),
        (["--tasks", "ar", "--data", "/nonexistent"], "does not exist"),
    ],
)
def test_train_bad_input_exits_2(tiny_data: Path, tmp_path: Path, args: list[str], match: str) -> None:
    base = ["train", "--data", str(tiny_data), "--out", str(tmp_path / "r"), "--epochs", "1", *SMALL]
    r = runner().invoke(cli, base + args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert match in r.stderr and r.stdout == ""


def test_evaluate_incompatible_run_exits_2(tiny_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    import shutil

    bad = Path(shutil.copytree(tiny_run, tmp_path / "old"))
    cfg = json.loads((bad / "config.json").read_text())
    cfg["format_version"] = 0
    (bad / "config.json").write_text(json.dumps(cfg))
    r = runner().invoke(cli, ["evaluate", str(bad), "--data", str(tiny_data), "--json"])
    assert r.exit_code == 2 and "format_version" in r.stderr and r.stdout == ""


def test_interrupted_train_says_how_to_resume(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backpack.pipeline import trainer

    def die(*a, **k):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", die)
    r = runner().invoke(
        cli,
        [
            "train",
            "--data",
            str(tiny_data),
            "--tasks",
            "oscc",
            "--out",
            str(tmp_path / "r"),
            "--epochs",
            "1",
            "--json",
            *SMALL,
        ],
    )
    assert r.exit_code == 130 and "--resume" in r.stderr and r.stdout == ""
    assert "No epoch had finished" in r.stderr


@pytest.mark.slow  # torchrun start-up: ~20 s on 2 cores
def test_train_on_two_processes_prints_one_json_document(tiny_data: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "DGLBACKEND": "pytorch"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "backpack.cli.main",
            "train",
            "--data",
            str(tiny_data),
            "--tasks",
            "ar,oscc",
            "--out",
            str(tmp_path / "r"),
            "--epochs",
            "1",
            "--nproc",
            "2",
            "--json",
            *SMALL,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["epoch"] == 1  # exactly one JSON document (rank 0's)
    assert (tmp_path / "r" / "checkpoint.json").is_file()


def test_missing_feature_file_fails_or_is_skipped(tiny_data: Path, tmp_path: Path) -> None:
    import shutil

    data = Path(shutil.copytree(tiny_data, tmp_path / "data"))
    clip = json.loads((data / "annotations" / "fho_oscc-pnr_train.json").read_text())["clips"][0]
    (data / "omnivore_video_swinl" / f"{clip['video_uid']}.pt").unlink()
    base = ["train", "--data", str(data), "--tasks", "oscc", "--epochs", "1", *SMALL]
    r = runner().invoke(cli, [*base, "--out", str(tmp_path / "a")])
    assert r.exit_code == 2 and clip["video_uid"] in r.stderr and "--skip-missing" in r.stderr
    assert not (tmp_path / "a").exists()  # nothing written
    r = runner().invoke(cli, [*base, "--out", str(tmp_path / "b"), "--skip-missing", "--json"])
    assert r.exit_code == 0, r.stderr
    assert "Warning:" in r.stderr and "dropped" in r.stderr
    assert json.loads(r.stdout)["epoch"] == 1
