"""Per-epoch training draws, weight decay, input standardisation and best/last model selection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from backpack.errors import ConfigError, RunError


def test_training_draws_change_per_epoch_and_repeat_per_epoch(tiny_data: Path) -> None:
    from backpack.data import Ego4DDataset
    from backpack.tasks.base import clear_sample_cache
    from backpack.tasks.registry import get_task

    ds = Ego4DDataset(tiny_data)
    ar = get_task("ar")

    def draw(epoch: int) -> torch.Tensor:
        return torch.cat(
            [s.x for s in ar.build_samples(ds, "train", True, seed=0, node_input="mean", epoch=epoch)]
        )

    one, two = draw(1), draw(2)
    assert one.shape[1] == 1  # the mean input has one slot per node
    assert not torch.equal(one, two)
    clear_sample_cache()
    assert torch.equal(draw(1), one)  # rebuilt from (seed, epoch): a resumed run sees the same rows
    ev = ar.build_samples(ds, "val", False, seed=0, node_input="submean")
    assert ev[0].x.shape[1] == 3


def test_standardize_stores_train_statistics_in_the_run(
    tmp_path: Path, tiny_data: Path, tiny_kw: dict
) -> None:
    from backpack.data import Ego4DDataset
    from backpack.pipeline import train_run
    from backpack.pipeline.runs import load_run
    from backpack.pipeline.train import input_stats

    run = train_run(
        tiny_data,
        "ar",
        tmp_path / "r",
        epochs=1,
        device="cpu",
        engine="native",
        progress=False,
        standardize=True,
        weight_decay=0.01,
        **tiny_kw,
    )
    assert run.config.standardize and run.config.weight_decay == 0.01
    loaded = load_run(tmp_path / "r")
    mean, std = input_stats(Ego4DDataset(tiny_data), ["ar"], run.config.node_input)
    torch.testing.assert_close(loaded.model.backbone.input_mean, mean)
    torch.testing.assert_close(loaded.model.backbone.input_std, std)
    assert float(std.min()) > 0 and float(mean.abs().max()) > 0


def test_best_epoch_is_kept_beside_the_last(tmp_path: Path, tiny_data: Path, tiny_kw: dict) -> None:
    from backpack.pipeline import train_run
    from backpack.pipeline.runs import load_run
    from backpack.pipeline.selection import BEST, BEST_WEIGHTS

    run = train_run(
        tiny_data,
        "ar",
        tmp_path / "r",
        epochs=3,
        device="cpu",
        engine="native",
        progress=False,
        select_metric="ar.noun_top1",
        **tiny_kw,
    )
    values = [h["val"]["ar"]["noun_top1"] for h in run.metrics_history]
    best = json.loads((tmp_path / "r" / BEST).read_text())
    assert best["metric"] == "ar.noun_top1"
    assert best["epoch"] == 1 + int(np.argmax(values)) and best["value"] == pytest.approx(max(values))
    last = load_run(tmp_path / "r", select="last")
    chosen = load_run(tmp_path / "r", select="best")
    assert last.selected == {"select": "last", "epoch": 3}
    assert chosen.selected["epoch"] == best["epoch"]
    same = all(
        torch.equal(a, b)
        for a, b in zip(last.model.state_dict().values(), chosen.model.state_dict().values())
    )
    assert same == (best["epoch"] == 3)
    (tmp_path / "r" / BEST_WEIGHTS).write_bytes(b"broken")
    with pytest.raises(RunError, match="sha256"):
        load_run(tmp_path / "r", select="best")


def test_bad_selection_settings_are_refused(tmp_path: Path, tiny_data: Path, tiny_kw: dict) -> None:
    from backpack.pipeline import train_run

    with pytest.raises(ConfigError, match="select_metric"):
        train_run(
            tiny_data,
            "ar",
            tmp_path / "r",
            epochs=1,
            device="cpu",
            progress=False,
            select_metric="ar.accuracy",
            **tiny_kw,
        )
    with pytest.raises(ConfigError, match="node_input"):
        train_run(
            tiny_data,
            "ar",
            tmp_path / "s",
            epochs=1,
            device="cpu",
            progress=False,
            node_input="max",
            **tiny_kw,
        )


def test_runs_without_the_new_fields_load_as_single_row_sampling(tiny_run: Path) -> None:
    from backpack.pipeline.runs import RunConfig

    d = json.loads((tiny_run / "config.json").read_text())
    for k in ("node_input", "weight_decay", "standardize", "select_metric"):
        d.pop(k)
    old = RunConfig.from_dict(d)
    assert (old.node_input, old.weight_decay, old.standardize) == ("sample", 0.0, False)
