"""Edge rules, windows, heads and the registry."""

from __future__ import annotations

import pytest
import torch

from backpack.errors import ConfigError
from backpack.tasks import TaskHead, build_head, get_task, list_tasks
from backpack.tasks.ar import windows
from backpack.tasks.graphs import anticipation_edges, split_frames, temporal_edges
from backpack.tasks.registry import parse_tasks


def edge_set(e: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(s), int(d)) for s, d in e.t()}


def test_temporal_edges_tau1_and_tau2() -> None:
    assert edge_set(temporal_edges(3, 1)) == {(0, 1), (1, 0), (1, 2), (2, 1)}
    e2 = edge_set(temporal_edges(4, 2))
    assert (0, 2) in e2 and (2, 0) in e2 and (0, 3) not in e2 and all(s != d for s, d in e2)
    assert temporal_edges(1, 1).shape == (2, 0)


def test_anticipation_edges() -> None:
    e = edge_set(anticipation_edges(2, 3))
    chain = {(0, 1), (1, 2), (2, 3), (3, 4)}
    assert all((a, b) in e and (b, a) in e for a, b in chain)
    assert all((o, f) in e for o in (0, 1) for f in (2, 3, 4))  # every observed node reaches every future
    assert (2, 4) not in e  # future nodes only see their neighbours
    assert len(e) == len(anticipation_edges(2, 3).t())  # no duplicates


def test_split_frames_covers_and_never_empty() -> None:
    assert split_frames(0, 160, 4) == [(0, 40), (40, 80), (80, 120), (120, 160)]
    parts = split_frames(10, 12, 4)  # shorter than n frames: every part still holds a frame
    assert len(parts) == 4 and all(hi > lo for lo, hi in parts)


def test_windows_cover_each_action_once_in_evaluation() -> None:
    assert [s for s, _ in windows(5, 9)] == [0]
    ws = windows(20, 9)
    assert [s for s, _ in ws] == [0, 9, 11]
    counted = sum(int(m.sum()) for _, m in ws)
    assert counted == 20
    # the last window re-covers 16, 17 and marks only 18, 19 as new
    assert ws[-1][1].tolist() == [False] * 7 + [True] * 2


def test_registry_lists_and_refuses_unknown() -> None:
    assert list_tasks() == ["ar", "lta", "oscc", "pnr"]
    with pytest.raises(ConfigError, match="Unknown task 'xx'.*ar, lta, oscc, pnr"):
        get_task("xx")
    assert parse_tasks("ar, lta,ar") == ["ar", "lta"]
    with pytest.raises(ConfigError, match="No task"):
        parse_tasks(" , ")


class _Tax:
    verbs = tuple("abc")
    nouns = tuple("defgh")


@pytest.mark.parametrize("name", list_tasks())
def test_every_task_has_a_head(name: str) -> None:
    torch.manual_seed(0)
    head = build_head(name, 16, 8, _Tax())
    feats, logits = head(torch.randn(5, 16))
    assert feats.shape == (5, 8)
    assert {k: v.shape[1] for k, v in logits.items()} == get_task(name).outputs(_Tax())
    assert set(logits) == set(head.classifier)
    assert "TaskHead(16 -> 8" in repr(head)


def test_head_outputs_per_task() -> None:
    assert get_task("ar").outputs(_Tax()) == {"verb": 3, "noun": 5}
    assert get_task("lta").outputs(_Tax()) == {"verb": 3, "noun": 5}
    assert get_task("oscc").outputs(_Tax()) == {"state": 2}
    assert get_task("pnr").outputs(_Tax()) == {"pnr": 1}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(in_dim=0, feat_dim=8, outputs={"a": 2}), "in_dim"),
        (dict(in_dim=4, feat_dim=-1, outputs={"a": 2}), "feat_dim"),
        (dict(in_dim=4, feat_dim=8, outputs={}), "outputs"),
        (dict(in_dim=4, feat_dim=8, outputs={"a": 0}), "outputs"),
        (dict(in_dim=4, feat_dim=8, outputs={"a": 2}, dropout=1.5), "dropout"),
    ],
)
def test_head_bad_config(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=f"'{field}'"):
        TaskHead(**kwargs)


def test_head_reset_parameters_changes_weights() -> None:
    torch.manual_seed(0)
    head = TaskHead(4, 8, {"a": 2})
    before = head.mlp[0].weight.clone()
    head.reset_parameters()
    assert not torch.equal(before, head.mlp[0].weight)


def test_unknown_head_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="Unknown task 'xx'. Expected one of: ar, lta, oscc, pnr"):
        build_head("xx", 4, 4, _Tax())
