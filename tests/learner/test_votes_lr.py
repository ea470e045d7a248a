"""Learner init and optimisation details: zero-initialised votes, lower lr for pre-trained parts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from backpack.errors import ConfigError
from backpack.models import CrossTaskInteraction
from backpack.pipeline.learn import param_groups
from backpack.pipeline.learner_runs import LearnConfig
from backpack.pipeline.trainer import _param_groups


def test_votes_start_at_zero_and_then_learn(make_views: Callable) -> None:
    torch.manual_seed(0)
    inter = CrossTaskInteraction(make_views(), {"state": 2}, k=2, depth=2)
    feats = {"ar": torch.randn(5, 8), "pnr": torch.randn(5, 6)}
    _, logits = inter(feats)
    assert all(torch.count_nonzero(lg["state"]) == 0 for lg in logits.values())  # EgoPack starts as MTL+FT
    loss = sum(
        torch.nn.functional.cross_entropy(lg["state"], torch.tensor([0, 1, 0, 1, 1]))
        for lg in logits.values()
    )
    loss.backward()
    assert all(inter.classifiers[t]["state"].weight.grad.abs().sum() > 0 for t in ("ar", "pnr"))
    inter.classifiers["ar"]["state"].weight.data.fill_(1.0)
    inter.reset_parameters()
    assert torch.count_nonzero(inter.classifiers["ar"]["state"].weight) == 0


def test_random_votes_on_request(make_views: Callable) -> None:
    torch.manual_seed(0)
    inter = CrossTaskInteraction(make_views(), {"state": 2}, k=2, depth=1, zero_votes=False)
    _, logits = inter({"ar": torch.randn(5, 8), "pnr": torch.randn(5, 6)})
    assert torch.count_nonzero(logits["ar"]["state"]) > 0


class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.base = nn.Linear(3, 3)
        self.head = nn.Linear(3, 2)


def test_pretrained_parts_get_the_scaled_lr() -> None:
    model = _Toy()
    groups = param_groups(model, LearnConfig(task="oscc", lr=1e-3, base_lr_scale=0.1))
    assert [g["lr"] for g in groups] == pytest.approx([1e-4, 1e-3])
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in model.base.parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in model.head.parameters()}


def test_trainer_keeps_groups_and_drops_frozen_parameters() -> None:
    model = _Toy()
    model.base.bias.requires_grad_(False)
    groups = _param_groups(
        model,
        [{"params": list(model.base.parameters()), "lr": 0.5}, {"params": list(model.head.parameters())}],
    )
    assert [len(g["params"]) for g in groups] == [1, 2] and groups[0]["lr"] == 0.5 and "lr" not in groups[1]
    opt = torch.optim.Adam(groups, lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.01]
    assert len(_param_groups(model, None)[0]["params"]) == 3  # plain parameters: one group


@pytest.mark.parametrize("scale", [0, -1.0, "x"])
def test_bad_base_lr_scale(scale: object) -> None:
    with pytest.raises(ConfigError, match="base_lr_scale"):
        LearnConfig(task="oscc", base_lr_scale=scale)  # type: ignore[arg-type]
