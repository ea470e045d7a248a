"""The official PNR and LTA protocols on hand-computed cases (EGO4D/hands-and-objects, EGO4D/forecasting)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from backpack.data import Ego4DDataset, StateClip
from backpack.tasks.lta import LongTermAnticipation
from backpack.tasks.metrics import lta_windows, pnr_localisation_error, pnr_node_frames, pnr_target_node
from backpack.tasks.pnr import PointOfNoReturn
from tests.tasks.handmade import write_handmade


def test_pnr_nodes_are_placed_at_the_start_of_their_span() -> None:
    # an 8 s clip at 30 fps: 240 frames, 16 nodes of 15 frames
    assert pnr_node_frames(1000, 1240, 16) == [1000 + 15 * i for i in range(16)]
    assert pnr_node_frames(1000, 1240, 16, "centre")[:2] == [1007.5, 1022.5]


def test_pnr_target_and_error_where_start_and_centre_disagree() -> None:
    # PNR frame 1013: nearest node start is 1015 (node 1); the node containing it is node 0
    assert pnr_target_node(1000, 1240, 1013, 16) == 1
    scores = torch.zeros(1, 16)
    scores[0, 1] = 5.0  # the model picks node 1
    truth = torch.tensor([1013])
    start = torch.tensor([pnr_node_frames(1000, 1240, 16)])
    centre = torch.tensor([pnr_node_frames(1000, 1240, 16, "centre")])
    assert pnr_localisation_error(scores, start, truth) == pytest.approx(2 / 30)  # |1015 - 1013| / 30
    assert pnr_localisation_error(scores, centre, truth) == pytest.approx(9.5 / 30)  # |1022.5 - 1013| / 30


def test_pnr_task_official_target_and_labelled_centre_protocol() -> None:
    clip = StateClip("u", "v", 1000, 1240, True, 1013)
    spans = [(1000 + 15 * i, 1015 + 15 * i) for i in range(16)]
    assert PointOfNoReturn()._target(clip, spans) == 1
    assert PointOfNoReturn(placement="centre")._target(clip, spans) == 0
    official, old = PointOfNoReturn(), PointOfNoReturn(placement="centre")
    logits = {"pnr": torch.zeros(16, 1)}
    logits["pnr"][1] = 5.0
    targets = {
        "pnr": torch.zeros(16),
        "placed": torch.tensor(pnr_node_frames(1000, 1240, 16), dtype=torch.float64),
        "frame": torch.full((16,), 1013),
    }
    got = official.score(logits, targets)
    assert got == {"loc_error_s": pytest.approx(2 / 30), "clips": 1.0, "fps": 30.0}
    targets["placed"] = torch.tensor(pnr_node_frames(1000, 1240, 16, "centre"), dtype=torch.float64)
    assert set(old.score(logits, targets)) == {"loc_error_s_centre", "clips", "fps"}  # labelled as such


def test_pnr_error_counts_only_labelled_clips() -> None:
    task = PointOfNoReturn()
    placed = torch.tensor(pnr_node_frames(0, 240, 16) * 2, dtype=torch.float64)
    frames = torch.cat([torch.full((16,), 30), torch.full((16,), -1)])  # the second clip is unlabelled
    logits = {"pnr": torch.zeros(32, 1)}
    logits["pnr"][0] = 1.0  # node 0 (frame 0) for the first clip: error 1 s
    out = task.score(logits, {"pnr": torch.zeros(32), "placed": placed, "frame": frames})
    assert out["loc_error_s"] == pytest.approx(1.0) and out["clips"] == 1.0


@pytest.mark.parametrize(("n", "windows"), [(25, 4), (22, 1), (21, 0), (0, 0)])
def test_lta_window_count(n: int, windows: int) -> None:
    assert len(lta_windows(n, 2, 20)) == windows


@pytest.fixture(scope="module")
def handmade(tmp_path_factory: pytest.TempPathFactory) -> Ego4DDataset:
    return Ego4DDataset(write_handmade(tmp_path_factory.mktemp("hand") / "data", {"train": 25, "val": 21}))


def test_a_clip_of_25_actions_gives_exactly_4_windows_in_action_idx_order(handmade: Ego4DDataset) -> None:
    task = LongTermAnticipation()
    windows = task.windows(handmade, "train")
    assert len(windows) == 8  # 2 clips x 4
    assert [task.window_key(c, s) for c, s in windows][:4] == [f"train-clip-0_{i}" for i in (1, 2, 3, 4)]
    samples = task.build_samples(handmade, "train", train=False, seed=0)
    assert len(samples) == 8
    clip, start = windows[3]  # the last window: future actions 5..24, all 20 labelled
    assert samples[3].labels["verb"].tolist() == [a.verb for a in clip[start : start + 22]]
    assert (samples[3].labels["verb"] >= 0).all()


def test_no_official_window_gives_nan_with_a_zero_count(handmade: Ego4DDataset) -> None:
    task = LongTermAnticipation()
    assert task.build_samples(handmade, "val", train=False, seed=0) == []  # 21 actions < N + Z
    out = task.evaluate(lambda name, batch: {}, [], seed=0)
    assert out["windows"] == 0.0 and math.isnan(out["verb_ed"]) and math.isnan(out["noun_ed"])
    assert "22 actions" in task.requirement


def test_lta_score_reports_windows_and_labels_the_prefix_protocol() -> None:
    z, big = 20, 50.0
    pred = torch.arange(z) % 3
    logits = torch.nn.functional.one_hot(pred, 3).float().mul(big)  # one window, certain samples
    truth = pred.clone()
    truth[:5] = 7  # a label never predicted: exactly 5 substitutions
    out = LongTermAnticipation().score(
        {"verb": logits, "noun": logits}, {"verb": truth, "noun": pred.clone()}, seed=0
    )
    assert out["verb_ed"] == pytest.approx(5 / 20) and out["noun_ed"] == 0.0 and out["windows"] == 1.0
    old = LongTermAnticipation(protocol="prefix").score(
        {"verb": logits, "noun": logits}, {"verb": truth, "noun": pred}
    )
    assert {"verb_ed_prefix", "noun_ed_prefix", "action_ed_prefix", "windows"} == set(old)


def test_prefix_protocol_keeps_the_former_windows(tmp_path: Path) -> None:
    ds = Ego4DDataset(write_handmade(tmp_path / "d", {"train": 25, "val": 21}))
    # former protocol: starts every 4 actions while N + 10 actions remain: 0, 4, 8 of 21
    assert len(LongTermAnticipation(protocol="prefix").build_samples(ds, "val", train=False, seed=0)) == 6


def test_task_variants_do_not_share_cached_graphs(handmade: Ego4DDataset) -> None:
    # the same dataset object: the former protocol must not get the official (empty) graphs, nor back
    assert LongTermAnticipation().build_samples(handmade, "val", train=False, seed=0) == []
    assert (
        len(LongTermAnticipation(protocol="prefix").build_samples(handmade, "val", train=False, seed=0)) == 6
    )
    assert LongTermAnticipation().build_samples(handmade, "val", train=False, seed=0) == []
