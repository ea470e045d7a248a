"""Metrics of the four Ego4D benchmarks, as plain functions on tensors.

- AR verb/noun and OSCC: top-1 accuracy in percent.
- LTA: edit distance as EGO4D/forecasting ``evaluation/lta_metrics.py::edit_distance`` defines it.
  For each window, K sequences of Z labels are sampled from the softmax of the future nodes; the
  score is min over K of Levenshtein(sample, truth) / Z, averaged over windows, verbs and nouns
  separately. The windows are :func:`lta_windows`. For actions (a backpack addition, not an
  official metric), a (verb, noun) pair matches only when both match.
- PNR: as EGO4D/hands-and-objects ``evaluation/metrics.py::keyframe_distance`` and EgoPack
  ``utils/meters/ego4d.py`` define it: node i of n is placed at ``start + (end - start) * i / n``
  (the start of its span), the error is |placed frame - PNR frame| / fps in seconds, averaged over
  the clips with a state change.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

IGNORE_INDEX = -100


def top1_accuracy(logits: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX) -> float:
    """Top-1 accuracy in percent over the rows whose target is not ``ignore_index``.

    Shapes: logits [M, C], target [M]. Returns ``nan`` when no row is labelled.
    """
    keep = target != ignore_index
    if int(keep.sum()) == 0:
        return float("nan")
    pred = logits[keep].argmax(dim=-1)
    return float((pred == target[keep]).float().mean() * 100.0)


def levenshtein(a: Sequence[object], b: Sequence[object]) -> int:
    """Edit distance (insertions, deletions, substitutions all cost 1) between two sequences."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def sample_sequences(logits: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """Sample ``k`` label sequences from the softmax of each position.

    Shapes: logits [G, Z, C] -> samples [G, k, Z].
    """
    g, z, c = logits.shape
    probs = torch.softmax(logits.detach().float().cpu(), dim=-1).reshape(g * z, c)
    draws = torch.multinomial(probs, k, replacement=True, generator=generator)  # [G*Z, k]
    return draws.reshape(g, z, k).permute(0, 2, 1).contiguous()


def edit_distance(samples: Tensor, truth: Tensor, ignore_index: int = IGNORE_INDEX) -> float:
    """Mean over graphs of min over K of Levenshtein(sample, truth) / Z.

    Shapes: samples [G, K, Z] (or [G, K, Z, 2] for (verb, noun) actions), truth [G, Z] (or [G, Z, 2]).
    A truth padded with ``ignore_index`` at the end (a clip with fewer than Z future actions) is
    compared on its labelled prefix of length L only: min over K of Levenshtein(sample[:L], truth[:L]) / L.
    Graphs without any labelled position are left out.
    """
    total, count = 0.0, 0
    for g in range(samples.shape[0]):
        labelled = truth[g] != ignore_index
        if labelled.dim() == 2:
            labelled = labelled.all(dim=-1)
        length = int(labelled.sum())
        if length == 0:
            continue
        gt = _as_items(truth[g][:length])
        total += min(levenshtein(_as_items(s[:length]), gt) for s in samples[g]) / length
        count += 1
    return total / count if count else float("nan")


def _as_items(seq: Tensor) -> list[object]:
    # pairs become tuples so that an action matches only when verb and noun both match
    return [tuple(x) for x in seq.tolist()] if seq.dim() == 2 else seq.tolist()


def lta_edit_distances(
    verb_logits: Tensor,
    noun_logits: Tensor,
    verb_truth: Tensor,
    noun_truth: Tensor,
    k: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Verb, noun and action edit distances of LTA predictions.

    Shapes: *_logits [G, Z, C], *_truth [G, Z]. The K samples are drawn with a generator seeded
    with ``seed``, so the metric is reproducible.
    """
    gen = torch.Generator().manual_seed(seed)
    verbs = sample_sequences(verb_logits, k, gen)
    nouns = sample_sequences(noun_logits, k, gen)
    return {
        "verb_ed": edit_distance(verbs, verb_truth.cpu()),
        "noun_ed": edit_distance(nouns, noun_truth.cpu()),
        "action_ed": edit_distance(
            torch.stack([verbs, nouns], dim=-1), torch.stack([verb_truth.cpu(), noun_truth.cpu()], dim=-1)
        ),
    }


def lta_windows(actions: int, observed: int = 2, future: int = 20, last: bool = True) -> range:
    """Start positions of the official LTA windows of a clip of ``actions`` actions (in ``action_idx`` order).

    Every start position (stride 1) whose window holds ``observed`` actions followed by all
    ``future`` actions: ``range(actions - observed - future + 1)``, the bound of EGO4D/forecasting
    ``ptv_dataset_helper.py::clip_forecasting_dataset`` since commit 38d1931 (the challenge's test
    keys were made before it, without the ``+ 1``; see docs/ego4d.md). A clip of 25 actions with
    N = 2, Z = 20 has 4 windows; a clip shorter than N + Z has none. ``last=False`` is the bound
    before that commit (each clip's last window left out), which the challenge's test keys follow.
    """
    return range(max(0, actions - observed - future + (1 if last else 0)))


def pnr_node_frames(start: float, end: float, nodes: int = 16, placement: str = "start") -> list[float]:
    """The frame each of ``nodes`` nodes of the clip [start, end] stands for.

    ``placement="start"`` (official): ``start + (end - start) * i / nodes``, the start of node i's
    span. ``"centre"`` (backpack's former protocol, not official): the middle of the span.
    """
    if placement not in PNR_PLACEMENTS:
        raise ValueError(f"Unknown PNR placement {placement!r}. Expected one of {PNR_PLACEMENTS}.")
    shift = 0.5 if placement == "centre" else 0.0
    return [start + (end - start) * (i + shift) / nodes for i in range(nodes)]


def pnr_target_node(start: float, end: float, pnr_frame: float, nodes: int = 16) -> int:
    """The positive node of the official target: the one whose start is nearest the PNR frame.

    Ties go to the earlier node (``argmin``).
    """
    placed = pnr_node_frames(start, end, nodes, "start")
    return min(range(nodes), key=lambda i: (abs(placed[i] - pnr_frame), i))


PNR_PLACEMENTS = ("start", "centre")


def pnr_localisation_error(scores: Tensor, placed: Tensor, truth_frames: Tensor, fps: float = 30.0) -> float:
    """Mean |placed frame of the best-scoring node - true PNR frame| / fps, in seconds.

    Shapes: scores [G, n] (one score per node), placed [G, n] (the frame each node stands for, see
    :func:`pnr_node_frames`), truth_frames [G]. Returns ``nan`` for no clip.
    """
    if scores.shape[0] == 0:
        return float("nan")
    best = scores.argmax(dim=1, keepdim=True)
    pred = placed.double().gather(1, best).squeeze(1)
    return float((pred - truth_frames.double()).abs().mean() / fps)
