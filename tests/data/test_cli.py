"""``backpack synth``: writes the dataset, --json prints only JSON, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from backpack.cli.main import cli
from backpack.data.layout import fingerprint


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        return CliRunner()


def test_synth_json(tmp_path: Path, synth_root: Path) -> None:
    out = tmp_path / "data"
    res = _runner().invoke(cli, ["synth", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)  # nothing else on stdout
    assert summary["path"] == str(out) and summary["seed"] == 0 and summary["size"] == "small"
    assert summary["verbs"] == 10 and summary["nouns"] == 15 and summary["feature_dim"] == 128
    assert summary["state_clips"] == {"train": 400, "val": 150, "test": 150}
    assert (
        summary["fingerprint"] == fingerprint(out) == fingerprint(synth_root)
    )  # same as the library, seed 0
    assert not (out / ".backpack-cache").exists()  # exactly the Ego4D layout


def test_synth_text_and_seed(tmp_path: Path, tiny_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from backpack.data import synthetic

    monkeypatch.setitem(synthetic.SIZES, "small", tiny_config)  # fast: the CLI path is what is tested
    for seed in ("4", "5"):
        res = _runner().invoke(cli, ["synth", "--out", str(tmp_path / seed), "--seed", seed])
        assert res.exit_code == 0
        assert "videos" in res.stdout and f"fingerprint {fingerprint(tmp_path / seed)}" in res.stdout
    assert fingerprint(tmp_path / "4") != fingerprint(tmp_path / "5")


def test_synth_refuses_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("keep")
    res = _runner().invoke(cli, ["synth", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "already exists and is not empty" in res.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_synth_bad_size_is_usage_error(tmp_path: Path) -> None:
    res = _runner().invoke(cli, ["synth", "--out", str(tmp_path / "d"), "--size", "huge"])
    assert res.exit_code == 2 and not (tmp_path / "d").exists()


def test_synth_help_has_example() -> None:
    res = _runner().invoke(cli, ["synth", "--help"])
    assert res.exit_code == 0 and "backpack synth --out data/" in res.output
