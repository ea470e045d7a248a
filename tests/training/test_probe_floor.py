"""The linear-probe floor: the default AR model must not fall below it on a small fixed world.

The world is the "small" clean synthetic data of seed 0; the model is ``train_run``'s defaults
(hidden 256) trained until the val curve is flat, 60 epochs: 86.4 verb / 69.1 noun (torch 2.2.1)
and 88.2 / 71.2 (torch 2.13) against the probe's 87.4 / 73.8. At 30 epochs the nouns are still
rising (65.4 under torch 2.13). experiments/results/floor_table.md measures the same budget over
3 seeds and both worlds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EPOCHS = 60


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backpack.data import world_config, write_synthetic

    return write_synthetic(
        tmp_path_factory.mktemp("floor") / "data", seed=0, size=world_config("small", "clean")
    )


def test_linear_probe_is_deterministic_and_well_above_chance(small_world: Path) -> None:
    from backpack.pipeline.linear_probe import linear_probe

    a = linear_probe(small_world, "ar,oscc")
    assert a == linear_probe(small_world, "ar,oscc")
    assert a["ar"]["verb_top1"] > 50 and a["ar"]["noun_top1"] > 50  # 10 verbs, 15 nouns
    assert set(a["oscc"]) == {"accuracy"}


def test_default_graph_model_reaches_the_probe(tmp_path: Path, small_world: Path) -> None:
    from backpack.pipeline import train_run
    from backpack.pipeline.linear_probe import linear_probe

    probe = linear_probe(small_world, "ar")["ar"]
    run = train_run(small_world, "ar", tmp_path / "r", epochs=EPOCHS, seed=0, device="cpu", progress=False)
    got = run.metrics_history[-1]["val"]["ar"]
    # the bars leave room for the epoch-to-epoch noise of the val curve (about 2 points here) and
    # the difference between the torch builds; a model that loses the signal falls far below them
    assert got["verb_top1"] >= 0.95 * probe["verb_top1"], (got, probe)
    assert got["noun_top1"] >= 0.9 * probe["noun_top1"], (got, probe)
