"""Every metric on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from backpack.tasks.metrics import (
    edit_distance,
    levenshtein,
    lta_edit_distances,
    pnr_localisation_error,
    sample_sequences,
    top1_accuracy,
)


def test_top1_accuracy_hand_computed() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    # predictions 0, 1, 2, 0; truth 0, 2, 2, 1 -> 2 of 4 right
    assert top1_accuracy(logits, torch.tensor([0, 2, 2, 1])) == pytest.approx(50.0)


def test_top1_accuracy_ignores_unlabelled_rows() -> None:
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 0.0]])
    # the ignored row would be wrong; of the 2 others, 1 is right
    assert top1_accuracy(logits, torch.tensor([0, -100, 1])) == pytest.approx(50.0)
    assert math.isnan(top1_accuracy(logits, torch.tensor([-100, -100, -100])))


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("abc", "", 3),
        ("abc", "abc", 0),
        ("abcd", "acbd", 2),
        ([1, 2, 3], [2, 3], 1),
        ([(1, 2), (3, 4)], [(1, 2), (3, 5)], 1),
    ],
)
def test_levenshtein(a, b, d) -> None:  # type: ignore[no-untyped-def]
    assert levenshtein(a, b) == d
    assert levenshtein(b, a) == d


def test_edit_distance_is_min_over_k_divided_by_z() -> None:
    truth = torch.tensor([[1, 2, 3, 4]])
    samples = torch.tensor([[[1, 2, 3, 0], [0, 0, 0, 0], [4, 3, 2, 1]]])  # distances 1, 4, 4
    assert edit_distance(samples, truth) == pytest.approx(1 / 4)
    # two graphs: 1/4 and 0 -> mean 1/8
    samples2 = torch.cat([samples, torch.tensor([[[5, 5, 5, 5], [1, 2, 3, 4], [1, 1, 1, 1]]])])
    truth2 = torch.cat([truth, torch.tensor([[1, 2, 3, 4]])])
    assert edit_distance(samples2, truth2) == pytest.approx(1 / 8)


def test_action_edit_distance_needs_verb_and_noun() -> None:
    # verbs all right, nouns wrong at one position -> action distance 1 of 3
    samples = torch.tensor([[[[1, 7], [2, 8], [3, 0]]]])  # [G=1, K=1, Z=3, 2]
    truth = torch.tensor([[[1, 7], [2, 8], [3, 9]]])
    assert edit_distance(samples, truth) == pytest.approx(1 / 3)


def test_lta_edit_distances_certain_logits() -> None:
    # near one-hot logits: sampling returns the argmax, so distances are known exactly
    z, big = 4, 50.0
    verbs_pred, nouns_pred = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 1, 0, 0])
    vlog = torch.nn.functional.one_hot(verbs_pred, 3).float().mul(big).reshape(1, z, 3)
    nlog = torch.nn.functional.one_hot(nouns_pred, 2).float().mul(big).reshape(1, z, 2)
    vt, nt = torch.tensor([[0, 1, 2, 2]]), torch.tensor([[1, 0, 0, 0]])
    out = lta_edit_distances(vlog, nlog, vt, nt, k=5, seed=3)
    assert out["verb_ed"] == pytest.approx(1 / 4)
    assert out["noun_ed"] == pytest.approx(1 / 4)
    assert out["action_ed"] == pytest.approx(2 / 4)


def test_sampling_is_seeded_and_follows_softmax() -> None:
    logits = torch.zeros(2, 5, 4)
    a = sample_sequences(logits, 5, torch.Generator().manual_seed(0))
    b = sample_sequences(logits, 5, torch.Generator().manual_seed(0))
    assert a.shape == (2, 5, 5) and torch.equal(a, b)
    skewed = torch.tensor([[[0.0, 0.0, 10.0]]]).expand(1, 200, 3)
    draws = sample_sequences(skewed, 5, torch.Generator().manual_seed(1))
    assert (draws == 2).float().mean() > 0.99


def test_pnr_localisation_error_hand_computed() -> None:
    scores = torch.tensor([[0.1, 0.9, 0.0], [0.3, 0.2, 0.8]])
    centres = torch.tensor([[15.0, 45.0, 75.0], [100.0, 130.0, 160.0]])
    truth = torch.tensor([60, 100])
    # |45 - 60| / 30 = 0.5 ; |160 - 100| / 30 = 2.0 -> mean 1.25 s
    assert pnr_localisation_error(scores, centres, truth) == pytest.approx(1.25)
    assert pnr_localisation_error(scores, centres, truth, fps=15.0) == pytest.approx(2.5)
    assert math.isnan(pnr_localisation_error(scores[:0], centres[:0], truth[:0]))


def test_edit_distance_on_padded_truth_uses_labelled_prefix() -> None:
    truth = torch.tensor([[1, 2, 3, -100, -100], [-100] * 5])
    samples = torch.tensor([[[1, 9, 3, 7, 7], [9, 9, 9, 1, 2]], [[0] * 5, [1] * 5]])
    # graph 0: prefix of length 3, best sample has 1 substitution -> 1/3; graph 1 unlabelled: skipped
    assert edit_distance(samples, truth) == pytest.approx(1 / 3)
