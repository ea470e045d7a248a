"""(c) A failing rank stops the whole job with a clear error, and nothing is written half.

Rank 1 crashes on purpose (``_distjob.py``): in the first step of epoch 2 of training, and while
forwarding its shard of a build. torchrun stops rank 0 too; the launcher names the failed rank and
its error; what rank 0 wrote before (the checkpoint of epoch 1, the store's versions) is intact.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.distributed._distjob import TRAIN_OPTIONS  # noqa: E402


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_failing_rank_stops_training_and_keeps_last_checkpoint(
    tiny_data: Path,
    tmp_path: Path,
    torchrun: Callable[..., int],
    capfd: pytest.CaptureFixture[str],
) -> None:
    from backpack.data import Ego4DDataset
    from backpack.pipeline.runs import load_run
    from backpack.tasks.registry import get_task

    ds = Ego4DDataset(tiny_data)
    sizes = [len(get_task(t).build_samples(ds, "train", train=True, seed=0)) for t in ("ar", "oscc")]
    steps = math.ceil(max(sizes) / TRAIN_OPTIONS["batch_size"])
    run_dir = tmp_path / "run"
    rc = torchrun("train", tmp_path / "out", tiny_data, run_dir, str(steps + 1))  # first step of epoch 2
    err = capfd.readouterr().err
    assert rc == 1
    assert "rank 1 of 2 failed: RuntimeError: injected failure in step" in err
    assert not (tmp_path / "out" / "result.json").exists()
    run = load_run(run_dir)  # rank 0's checkpoint of epoch 1: complete and loadable
    assert run.epoch == 1
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 1
    assert not [p.name for p in run_dir.iterdir() if "tmp" in p.name]


@pytest.mark.slow  # one more torchrun launch (~20 s); the training case above runs by default
def test_failing_rank_stops_build_and_publishes_nothing(
    tiny_data: Path,
    tmp_path: Path,
    torchrun: Callable[..., int],
    capfd: pytest.CaptureFixture[str],
) -> None:
    from backpack.data import Ego4DDataset
    from backpack.pipeline.build import build_prototypes
    from backpack.pipeline.runs import load_run
    from backpack.pipeline.train import train_run
    from backpack.store import Backpack

    run_dir, store = tmp_path / "run", tmp_path / "store"
    train_run(tiny_data, "ar", run_dir, progress=False, **{**TRAIN_OPTIONS, "epochs": 1})
    build_prototypes(load_run(run_dir), Ego4DDataset(tiny_data), str(store), progress=False)
    before = _snapshot(store)
    rc = torchrun("build_fail", tmp_path / "out", run_dir, tiny_data, store)
    err = capfd.readouterr().err
    assert rc == 1
    assert "rank 1 of 2 failed: RuntimeError: injected failure while forwarding" in err
    assert _snapshot(store) == before  # no version, no tag, no data folder: not a byte changed
    bp = Backpack.open(store)
    assert bp.versions() == [1] and bp.tags() == {} and bp.verify() == []
