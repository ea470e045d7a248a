"""``train_run`` on a download in the real Ego4D layout: what the run records of the data it read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backpack.errors import RunError
from backpack.pipeline import train_run
from tests.data.real_layout import write_download
from tests.training.conftest import TINY_MODEL

KW = dict(seed=0, device="cpu", engine="native", progress=False, **TINY_MODEL)


def test_resume_names_the_changed_file_and_ignores_unread_ones(tmp_path: Path) -> None:
    data = write_download(tmp_path / "ego4d")  # the downloader's root: v1/ is found below it
    out = tmp_path / "run"
    run = train_run(data, "oscc", out, epochs=1, cache_dir=tmp_path / "cache", **KW)
    assert run.config.feature_time == {"window": 32, "stride": 16, "fps": 30.0, "source": "known"}
    assert set(run.config.data_files) == {
        "annotations/fho_lta_taxonomy.json",
        "annotations/fho_oscc-pnr_train.json",
        "annotations/fho_oscc-pnr_val.json",
        "omnivore_video_swinl/oscc_b.pt",
    }
    ann = data / "v1/annotations"
    (ann / "fho_lta_train.json").write_text("{}")  # AR/LTA file: an OSCC run does not read it
    (ann / "sta_train.json").write_text("{}")
    train_run(data, "oscc", out, epochs=2, resume=True, cache_dir=tmp_path / "cache", **KW)
    path = ann / "fho_oscc-pnr_train.json"
    raw = json.loads(path.read_text())
    raw["clips"].pop()
    path.write_text(json.dumps(raw))
    with pytest.raises(RunError) as info:
        train_run(data, "oscc", out, epochs=3, resume=True, cache_dir=tmp_path / "cache", **KW)
    msg = str(info.value)
    assert "'data_fingerprint'" in msg and "annotations/fho_oscc-pnr_train.json (changed)" in msg
    assert "fho_lta" not in msg and "\n" not in msg


def test_cli_unknown_features_and_the_version_folder(tmp_path: Path) -> None:
    from backpack.cli.main import cli
    from tests.training.test_cli import SMALL, runner

    data = write_download(tmp_path / "ego4d", version="v2", features="my_features")
    base = ["train", "--data", str(data), "--tasks", "oscc", "--epochs", "1", "--features", "my_features"]
    r = runner().invoke(cli, [*base, "--out", str(tmp_path / "a"), *SMALL])
    assert r.exit_code == 2 and "--feature-stride" in r.stderr and "Traceback" not in r.stderr
    r = runner().invoke(
        cli, [*base, "--feature-stride", "16", "--out", str(tmp_path / "b"), "--json", *SMALL]
    )
    assert r.exit_code == 0, r.stderr
    assert "using" in r.stderr and str(data / "v2") in r.stderr  # says which version folder
    json.loads(r.stdout)
    config = json.loads((tmp_path / "b/config.json").read_text())
    assert config["feature_time"] == {"window": 16, "stride": 16, "fps": 30.0, "source": "given"}
