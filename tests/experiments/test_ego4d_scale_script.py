"""experiments/ego4d_scale.py: the scaled Ego4D data, the full-size line and a run at a tiny fraction."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import ModuleType

from tests.experiments.conftest import EXPERIMENTS

Loader = Callable[[str], ModuleType]


def _data_module(load_script: Loader) -> ModuleType:
    sys.path.insert(0, str(EXPERIMENTS))  # the scripts import their helpers by file name
    return load_script("ego4d_scale_data")


def test_scaled_data_has_the_real_taxonomy_and_scaled_counts(tmp_path: Path, load_script: Loader) -> None:
    from backpack.data import Ego4DDataset

    mod = _data_module(load_script)
    counts = mod.write_scaled(tmp_path / "d", 1 / 1024, dim=16, seed=0)
    ds = Ego4DDataset(tmp_path / "d")
    assert (len(ds.taxonomy.verbs), len(ds.taxonomy.nouns)) == (115, 478)
    assert ds.feature_dim == 16
    # OSCC: round(41,085 / 1024) and round(28,348 / 1024) clips, half of them positive
    train, val = ds.state_clips("train"), ds.state_clips("val")
    assert (len(train), len(val)) == (40, 28) == (counts["oscc_train_clips"], counts["oscc_val_clips"])
    assert sum(c.state_change for c in train) == 20
    # LTA: one video a split at this fraction, an action every 2.8-8 s of a 4-6 minute video
    assert len(ds.action_clips("train")) == counts["lta_train_actions"]
    assert 30 <= counts["lta_train_actions"] <= 130
    assert counts["lta_train_pairs"] <= 3000
    again = mod.write_scaled(tmp_path / "e", 1 / 1024, dim=16, seed=0)
    assert again == counts  # seeded


def test_extrapolation_is_the_line_through_the_fractions(load_script: Loader) -> None:
    sys.path.insert(0, str(EXPERIMENTS))
    rep = load_script("ego4d_scale_report")
    rows = [
        {"fraction": f, "train": {"seconds": 10 + 100 * float(Fraction(f))}} for f in ("1/64", "1/32", "1/16")
    ]
    assert abs(rep.extrapolate(rows, "train", "seconds") - 110.0) < 1e-9
    assert rep.extrapolate(rows[:1], "train", "seconds") is None  # one size: no line
    assert rep.extrapolate(rows, "build", "seconds") is None


def test_tiny_run_times_every_stage(tmp_path: Path, load_script: Loader, capsys) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(EXPERIMENTS))
    mod = load_script("ego4d_scale")
    argv = ["--fractions", "1/4096", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "r" / "scale")]
    argv += ["--dim", "16", "--hidden", "8", "--feat-dim", "8", "--no-flops"]
    assert mod.main(argv) == 0
    result = json.loads((tmp_path / "r" / "scale.json").read_text())
    (row,) = result["rows"]
    assert row["fraction"] == "1/4096" and row["data"]["oscc_train_clips"] == 10
    for stage in ("cache", "train", "build", "learn", "evaluate_train", "evaluate_learn", "predict"):
        assert row[stage]["seconds"] > 0 and row[stage]["peak_rss_mb"] > 0, stage
    assert row["cache"]["over_floor"] > 0 and row["cache"]["disk_bytes"] > 0
    assert row["train"]["disk_bytes"] > 0 and row["build"]["disk_bytes"] > 0
    assert "| 1/4096 | train |" in (tmp_path / "r" / "scale.table.md").read_text()
    assert not (tmp_path / "w" / "work-1_4096").exists()  # runs and store removed without --keep
