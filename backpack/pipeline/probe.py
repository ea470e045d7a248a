"""How well does each task's prototype set identify the action of held-out clips?

A diagnostic for the backpack (not part of training): forward the AR clips of a split through
the run's backbone and heads (as ``backpack build`` does for the train split), look up each head
feature's nearest prototype (cosine, the store's own search) and compare that prototype's
(verb, noun) key with the clip's labels. A task whose prototypes retrieve the right verb far more
often than chance carries action knowledge a novel task can use through EgoPack; one at chance
carries none (its head ignores what the action is).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from backpack.errors import ConfigError


def retrieval_hits(
    view: Any, feats: np.ndarray, verbs: np.ndarray, nouns: np.ndarray, k: int = 1
) -> dict[str, float]:
    """Share of rows of ``feats`` whose ``k`` nearest prototypes hold the row's verb / noun / pair.

    Parameters
    ----------
    view : TaskView
        A store task (``search`` and ``keys`` [P, 2] = verb, noun ids).
    feats : ndarray [M, D]
        Head features of M clips; ``verbs``, ``nouns`` [M] their labels.
    k : int
        A hit is any of the ``k`` nearest prototypes having the label (k = 1: the nearest one).

    Returns ``{"verb", "noun", "pair"}`` hit rates, and ``"chance_verb"`` / ``"chance_noun"``:
    the rates a random choice of k distinct prototypes would reach on the same rows.
    """
    feats = np.ascontiguousarray(feats, dtype=np.float32)
    verbs, nouns = np.asarray(verbs), np.asarray(nouns)
    if feats.ndim != 2 or len(feats) != len(verbs) or len(verbs) != len(nouns) or len(feats) == 0:
        raise ConfigError(
            f"Invalid probe inputs for task {view.name!r}. Expected feats [M, D] with M = len(verbs) = "
            "len(nouns) > 0. "
            f"Got feats {list(feats.shape)}, {len(verbs)} verbs, {len(nouns)} nouns."
        )
    if not 1 <= k <= int(view.count):
        raise ConfigError(
            f"Invalid value for 'k' in the probe of task {view.name!r}. Expected 1 to {view.count}. Got {k}."
        )
    _, found = view.search(feats, k)
    ids = np.asarray(found)
    keys = np.asarray(view.keys)
    kv, kn = keys[ids, 0], keys[ids, 1]  # [M, k]
    found_ok = ids >= 0  # an approximate index may return -1 (fewer than k found): never a hit
    hit_v, hit_n = (kv == verbs[:, None]) & found_ok, (kn == nouns[:, None]) & found_ok
    # chance: share of prototypes with the row's verb (noun), for k draws without replacement
    p = len(keys)
    share_v = (keys[:, 0][None, :] == verbs[:, None]).sum(1) / p
    share_n = (keys[:, 1][None, :] == nouns[:, None]).sum(1) / p

    def at_least_one(share: np.ndarray) -> float:
        miss = np.ones_like(share)
        for i in range(k):  # hypergeometric: no hit among k distinct prototypes
            miss *= np.clip((p * (1 - share) - i) / (p - i), 0.0, 1.0)
        return float(np.mean(1 - miss))

    return {
        "verb": float(hit_v.any(1).mean()),
        "noun": float(hit_n.any(1).mean()),
        "pair": float((hit_v & hit_n).any(1).mean()),
        "chance_verb": at_least_one(share_v),
        "chance_noun": at_least_one(share_n),
    }


def probe_store(
    model: Any, ds: Any, tasks: Mapping[str, Any], split: str = "val", k: int = 1, batch_size: int = 64
) -> dict[str, dict[str, float]]:
    """:func:`retrieval_hits` of every store task in ``tasks`` {name: TaskView} on ``split``'s AR clips.

    ``model`` is a multi-task model (``backbone`` and ``heads`` holding every name in ``tasks``).
    """
    import torch

    from backpack.backbone.graph import GraphBatch
    from backpack.pipeline.build import heads_on_ar
    from backpack.tasks._clips import node_input_of
    from backpack.tasks.registry import get_task

    missing = sorted(set(tasks) - set(model.heads))
    if missing:
        raise ConfigError(
            f"The run has no head for the store task(s) {missing}. Expected heads {sorted(tasks)}. "
            f"Got {sorted(model.heads)}."
        )
    ar = get_task("ar")
    samples = ar.build(ds, split, False, np.random.default_rng(0), node_input_of(model))
    if not samples:
        raise ConfigError(f"No AR clips in split {split!r} of the dataset to probe the store with.")
    features = heads_on_ar(model, list(tasks))
    feats: dict[str, list[np.ndarray]] = {t: [] for t in tasks}
    verbs, nouns = [], []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for lo in range(0, len(samples), batch_size):
                batch = GraphBatch.collate(samples[lo : lo + batch_size])
                _, f = features(batch)
                tgt = ar.targets(batch)
                for t in tasks:
                    feats[t].append(f[t].float().cpu().numpy())
                verbs.append(tgt["verb"].numpy())
                nouns.append(tgt["noun"].numpy())
    finally:
        model.train(was_training)
    v, n = np.concatenate(verbs), np.concatenate(nouns)
    return {t: retrieval_hits(view, np.concatenate(feats[t]), v, n, k) for t, view in tasks.items()}


__all__ = ["probe_store", "retrieval_hits"]
