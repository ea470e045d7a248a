"""Two teams share one store on object storage (the local moto S3 server), through the CLI.

Team A trains, builds and tags ``v1`` on the bucket. Team B (its own folder and array cache) opens
``@v1`` read-only, learns a novel task (OSCC) with it and publishes its own version with
``--add-task``. Team A's ``latest`` then shows B's task with B's provenance, ``@v1`` is unchanged,
and ``backpack verify`` passes for every version, run by either team.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.s3

TINY = ["--hidden", "32", "--layers", "1", "--feat-dim", "16", "--batch-size", "8", "--seed", "0"]


def _cli(args: list[str], cache: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    from click.testing import CliRunner

    from backpack.cli.main import cli

    monkeypatch.setenv("BACKPACK_CACHE_DIR", str(cache))  # each team has its own local cache
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sharing_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backpack.data import SIZES, write_synthetic
    from backpack.data.synthetic import with_overrides

    cfg = with_overrides(
        SIZES["small"], dim=32, lta_videos=(8, 3), oscc_clips=(48, 24), video_seconds=(60.0, 90.0)
    )
    return Path(write_synthetic(tmp_path_factory.mktemp("sharing-data") / "data", seed=0, size=cfg))


def test_two_teams_share_a_store_on_s3(
    sharing_data: Path, s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backpack._io import sha256_file as file_sha256
    from backpack.store import Backpack

    data, team_a, team_b = str(sharing_data), tmp_path / "team-a", tmp_path / "team-b"
    # Team A: a multi-task run, its prototypes published and tagged v1 on the bucket.
    _cli(
        ["train", "--data", data, "--tasks", "ar,lta", "--out", str(team_a / "mtl"), "--epochs", "1", *TINY],
        team_a / "cache",
        monkeypatch,
    )
    built = _cli(
        ["build", str(team_a / "mtl"), "--data", data, "--store", s3_url, "--tag", "v1"],
        team_a / "cache",
        monkeypatch,
    )
    assert built["version"] == 1

    # Team B: receives A's run (the backbone the store was built with), opens @v1 read-only.
    shutil.copytree(team_a / "mtl", team_b / "mtl")
    learned = _cli(
        [
            "learn",
            "--task",
            "oscc",
            "--data",
            data,
            "--from",
            str(team_b / "mtl"),
            "--store",
            f"{s3_url}@v1",
            "--out",
            str(team_b / "oscc"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
        ],
        team_b / "cache",
        monkeypatch,
    )
    assert learned["store_version"] == 1
    assert Backpack.open(s3_url).versions() == [1]  # learning wrote nothing to the store
    assert list((team_b / "cache").rglob("*.npy"))  # B's reads went through B's own cache
    added = _cli(
        ["build", str(team_b / "oscc"), "--data", data, "--store", s3_url, "--add-task", "oscc"],
        team_b / "cache",
        monkeypatch,
    )
    assert added["version"] == 2

    # Team A's latest shows B's task with B's provenance; v1 is untouched.
    latest = Backpack.open(s3_url)
    assert latest.version == 2 and latest.task_names == ["ar", "lta", "oscc"]
    prov = latest.manifest.provenance
    assert prov.checkpoint_sha256 == file_sha256(team_b / "oscc" / "weights.safetensors")
    assert prov.extra["added_task"] == "oscc" and prov.extra["run"] == "oscc"
    assert latest.manifest.parent == 1
    v1 = Backpack.open(s3_url, version="v1")
    assert v1.version == 1 and v1.task_names == ["ar", "lta"]
    assert v1.manifest.provenance.checkpoint_sha256 == file_sha256(team_a / "mtl" / "weights.safetensors")
    for t in ("ar", "lta"):  # B's version keeps A's tasks by reference: the same bytes
        assert latest.manifest.tasks[t].arrays == v1.manifest.tasks[t].arrays

    # Both teams' versions verify, whoever runs the check.
    for team in (team_a, team_b):
        report = _cli(["verify", s3_url], team / "cache", monkeypatch)
        assert report["ok"] is True and report["versions"] == [1, 2], report
