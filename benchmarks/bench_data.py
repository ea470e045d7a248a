"""Data-loading throughput: one epoch of TRN sampling over every clip, with and without the cache.

An epoch visits every action clip and takes its 3 centred sub-segment features (what the graph
builders do). *Without the cache*, each video's ``.pt`` is read with ``torch.load`` once per
epoch (the best a loader without a cache can do); *with the cache*, features come memory-mapped
from the float32 ``.npy`` copies. Both run in one test, interleaved, and the ratio goes to
``extra_info`` (``cached_over_uncached``: clips/s with the cache divided by clips/s without it),
next to the one-off cost of building the cache. Features are 1536-d as in Ego4D. Under CI
(``--benchmark-disable``) or with ``BACKPACK_BENCH_SMALL=1`` it runs once at a tiny size.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from backpack.data import FeatureCache, sample_subsegments

DIM = 1536


def _small(benchmark) -> bool:  # type: ignore[no-untyped-def]
    return bool(benchmark.disabled) or os.environ.get("BACKPACK_BENCH_SMALL") == "1"


def _write_videos(folder: Path, videos: int, steps: int, dim: int) -> dict[str, list[tuple[int, int]]]:
    """``videos`` feature files of [steps, dim]; return each video's clips (about one per 5 s)."""
    import torch

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    clips: dict[str, list[tuple[int, int]]] = {}
    for v in range(videos):
        uid = f"video{v:03d}"
        torch.save(
            torch.from_numpy(rng.standard_normal((steps, dim), dtype=np.float32)), folder / f"{uid}.pt"
        )
        starts = np.arange(0, steps * 16 - 160, 150)
        clips[uid] = [(int(s), int(s) + 120) for s in starts]
    return clips


def test_loading_cached_vs_uncached(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    small = _small(benchmark)
    videos, steps = (3, 40) if small else (16, 1200)  # 1200 steps = 10 min of video, 7.4 MB each
    src = tmp_path / "features"
    clips = _write_videos(src, videos, steps, DIM)
    n_clips = sum(map(len, clips.values()))
    cache = FeatureCache(tmp_path / "cache")

    def uncached_epoch() -> float:
        total = 0.0
        for uid, segs in clips.items():
            feats = torch.load(src / f"{uid}.pt", weights_only=True).numpy()
            for s, e in segs:
                total += float(sample_subsegments(feats, s, e)[0, 0])
        return total

    opened: dict[str, np.ndarray] = {}

    def cached_epoch() -> float:
        total = 0.0
        for uid, segs in clips.items():
            feats = opened.get(uid)
            if feats is None:
                feats = opened[uid] = cache.load(src / f"{uid}.pt")
            for s, e in segs:
                total += float(sample_subsegments(feats, s, e)[0, 0])
        return total

    t0 = time.perf_counter()
    first = cached_epoch()  # builds the cache (one conversion per video)
    build_s = time.perf_counter() - t0
    assert cache.conversions == videos
    times: dict[str, list[float]] = defaultdict(list)

    def pair() -> None:
        for name, fn in (("uncached", uncached_epoch), ("cached", cached_epoch)):
            t = time.perf_counter()
            value = fn()
            times[name].append(time.perf_counter() - t)
            assert value == first  # same features either way

    benchmark.pedantic(pair, rounds=1 if small else 10, iterations=1, warmup_rounds=0)
    rate = {name: n_clips / statistics.median(ts) for name, ts in times.items()}
    benchmark.extra_info.update(
        {
            "videos": videos,
            "clips": n_clips,
            "dim": DIM,
            "uncached_clips_per_s": rate["uncached"],
            "cached_clips_per_s": rate["cached"],
            "cached_over_uncached": rate["cached"] / rate["uncached"],
            "cache_build_s": build_s,
            "cache_build_over_uncached_epoch": build_s / statistics.median(times["uncached"]),
        }
    )
    assert cache.conversions == videos  # later epochs never converted again
    assert all(r > 0 for r in rate.values())


@pytest.mark.parametrize("n", [3])
def test_subsegment_sampling(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    """Raw cost of one TRN sample from a memory-mapped [T, 1536] array (the cached inner loop)."""
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((600, DIM), dtype=np.float32)
    gen = np.random.default_rng(1)
    out = benchmark(lambda: sample_subsegments(feats, 1600, 1760, n=n, rng=gen))
    if out is not None:
        assert out.shape == (n, DIM)
