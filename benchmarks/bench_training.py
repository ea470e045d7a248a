"""Share of data loading in a multi-task training step (target: under 10%).

One step of ``backpack.pipeline.trainer.fit``: for each of the 4 tasks, pick a batch of 16 cached
graphs and collate it (the data loading), then forward, the mean of the task losses, backward and
the Adam step. Features come from the dataset's memory-mapped feature cache and the built graphs
are cached in memory, so the data side of a step is only indexing and collating. The full run uses
1536-d features (Omnivore size) and the default model (hidden 256); under CI
(``--benchmark-disable``) or with ``BACKPACK_BENCH_SMALL=1`` it runs once at a tiny size.
Also measured: building the graphs of a split from the feature cache, per graph, against a step.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import torch

from backpack.backbone import GraphBatch
from backpack.data import SIZES, Ego4DDataset, write_synthetic
from backpack.data.synthetic import with_overrides
from backpack.models.multitask import build_model
from backpack.pipeline.trainer import epoch_orders
from backpack.tasks import get_task
from backpack.tasks.base import clear_sample_cache

TASKS = ["ar", "lta", "oscc", "pnr"]


def _small(benchmark) -> bool:  # type: ignore[no-untyped-def]
    return bool(benchmark.disabled) or os.environ.get("BACKPACK_BENCH_SMALL") == "1"


def _data(root: Path, small: bool) -> Path:
    over = (
        dict(dim=32, lta_videos=(3, 1), oscc_clips=(24, 8), video_seconds=(60.0, 90.0))
        if small
        else dict(dim=1536, lta_videos=(12, 2), oscc_clips=(160, 20))
    )
    return write_synthetic(root / "data", seed=0, size=with_overrides(SIZES["small"], **over))


def test_data_loading_share_of_a_training_step(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small = _small(benchmark)
    ds = Ego4DDataset(_data(tmp_path, small))
    samples = {t: get_task(t).build_samples(ds, "train", train=True, seed=0) for t in TASKS}
    torch.manual_seed(0)
    hidden = 32 if small else 256
    model = build_model(TASKS, ds.taxonomy, ds.feature_dim, hidden=hidden, feat_dim=hidden, engine="auto")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bs = 16
    steps, orders = epoch_orders({t: len(s) for t, s in samples.items()}, bs, seed=0, epoch=1)
    load_s: list[float] = []
    total_s: list[float] = []

    def step() -> None:
        i = len(total_s) % steps
        t0 = time.perf_counter()
        batches = {
            t: GraphBatch.collate([samples[t][j] for j in orders[t][i * bs : (i + 1) * bs]]) for t in TASKS
        }
        t1 = time.perf_counter()
        loss = torch.stack([get_task(t).loss(model(t, b), b) for t, b in batches.items()]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        load_s.append(t1 - t0)
        total_s.append(t2 - t0)

    step()  # warm-up
    load_s.clear()
    total_s.clear()
    benchmark.pedantic(step, rounds=1 if small else 40, iterations=1, warmup_rounds=0)
    share = statistics.median(load_s) / statistics.median(total_s)
    benchmark.extra_info.update(
        {
            "engine": model.backbone.engine.name,
            "feature_dim": ds.feature_dim,
            "hidden": hidden,
            "batch": bs,
            "load_ms": 1e3 * statistics.median(load_s),
            "step_ms": 1e3 * statistics.median(total_s),
            "load_share": share,
        }
    )
    assert 0.0 < share < 1.0
    if not small:
        assert share < 0.10, f"data loading takes {share:.1%} of a step"


def test_graph_building_from_the_feature_cache(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Graphs built per second from the (memory-mapped) feature cache: done once per run, then cached."""
    small = _small(benchmark)
    root = _data(tmp_path, small)
    Ego4DDataset(root)  # opening reads every video once: the .pt files are converted into the cache here
    counts: list[int] = []

    def build() -> None:
        clear_sample_cache()
        ds = Ego4DDataset(root)
        counts.append(sum(len(get_task(t).build_samples(ds, "train", train=True, seed=0)) for t in TASKS))

    benchmark.pedantic(build, rounds=1 if small else 5, iterations=1, warmup_rounds=0)
    assert counts[-1] > 0
    if not benchmark.disabled and benchmark.stats is not None:
        benchmark.extra_info["graphs_per_s"] = counts[-1] / benchmark.stats.stats.mean
    benchmark.extra_info["graphs"] = counts[-1]
