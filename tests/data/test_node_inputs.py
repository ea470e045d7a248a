"""Node inputs formed from every row of a segment (pool_segment) and the noisy synthetic world."""

from __future__ import annotations

import numpy as np
import pytest

from backpack.data.sampling import NODE_INPUTS, node_slots, pool_segment, sample_subsegments
from backpack.errors import ConfigError


def _feats(steps: int = 40, dim: int = 4) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((steps, dim)).astype(np.float32)


def test_mean_is_the_mean_of_every_row_of_the_segment() -> None:
    f = _feats()
    got = pool_segment(f, 16 * 5, 16 * 14, node_input="mean")  # rows 5..13
    assert got.shape == (1, 4)
    np.testing.assert_allclose(got[0], f[5:14].mean(0), rtol=1e-6)


def test_submean_averages_each_third_of_the_rows() -> None:
    f = _feats()
    got = pool_segment(f, 16 * 5, 16 * 14, n=3, node_input="submean")  # 9 rows: 3 + 3 + 3
    assert got.shape == (3, 4)
    for i in range(3):
        np.testing.assert_allclose(got[i], f[5 + 3 * i : 8 + 3 * i].mean(0), rtol=1e-6)


def test_sample_is_the_single_row_sampler() -> None:
    f = _feats()
    a = pool_segment(f, 80, 224, node_input="sample", rng=np.random.default_rng(3))
    b = sample_subsegments(f, 80, 224, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_training_crop_is_seeded_inside_the_segment_and_covers_half() -> None:
    f = np.arange(40, dtype=np.float32)[:, None].repeat(2, axis=1)  # row value = its index
    draws = {
        float(pool_segment(f, 0, 16 * 20, node_input="mean", rng=np.random.default_rng(s))[0, 0])
        for s in range(30)
    }
    assert len(draws) > 3  # the crop varies with the generator
    assert all(0 + 4.5 <= v <= 19 - 4.5 for v in draws)  # a crop of >= 10 of rows 0..19
    again = pool_segment(f, 0, 16 * 20, node_input="mean", rng=np.random.default_rng(7))
    np.testing.assert_array_equal(
        again, pool_segment(f, 0, 16 * 20, node_input="mean", rng=np.random.default_rng(7))
    )


def test_short_segments_repeat_rows_and_unknown_names_are_refused() -> None:
    f = _feats()
    got = pool_segment(f, 16 * 2, 16 * 3, n=3, node_input="submean")  # one row
    np.testing.assert_allclose(got, np.repeat(f[2:3], 3, axis=0))
    assert [node_slots(n, 3) for n in NODE_INPUTS] == [1 if n == "mean" else 3 for n in NODE_INPUTS]
    with pytest.raises(ConfigError, match="node_input"):
        pool_segment(f, 0, 64, node_input="max")


def test_noisy_world_has_correlated_noise_and_imbalanced_classes() -> None:
    from backpack.data import generate_synthetic, world_config

    cfg = world_config("small", "noisy")
    assert cfg.noise_corr == 0.5 and cfg.class_skew > 0
    data = generate_synthetic(seed=0, size=cfg)
    video = next(iter(data.videos.values()))
    x = video.feats - video.feats.mean(0)
    lag1 = float((x[1:] * x[:-1]).sum() / np.sqrt((x[1:] ** 2).sum() * (x[:-1] ** 2).sum()))
    assert 0.3 < lag1 < 0.7  # neighbouring windows share about half their noise
    verbs = np.bincount([r["verb_label"] for r in data.lta["train"]], minlength=cfg.num_verbs)
    assert verbs.max() / verbs.sum() > 2.0 / cfg.num_verbs  # far from uniform
    clean = generate_synthetic(seed=0, size="small")
    cx = next(iter(clean.videos.values())).feats
    cx = cx - cx.mean(0)
    assert abs(float((cx[1:] * cx[:-1]).sum() / (cx**2).sum())) < 0.2  # the clean world is not


def test_unknown_world_is_refused() -> None:
    from backpack.data import world_config

    with pytest.raises(ConfigError, match="world"):
        world_config("small", "muddy")
