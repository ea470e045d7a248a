"""The linear-probe floor: a linear classifier on each unit's mean feature row.

Every learned model must beat it: it sees the same rows a node sees (all of its segment's, averaged)
and nothing else (no temporal context, no hidden layer). It exists for the tasks whose unit is one
segment with a class label: AR (verb and noun of an action) and OSCC (state change of a clip). LTA
(a sequence of future actions) and PNR (a frame inside a clip) have no single pooled unit.

The classifier is multinomial logistic regression on standardised inputs (train-split statistics)
with a small L2 penalty, fitted full-batch with L-BFGS until the gradient vanishes: deterministic
(zero initialisation, no sampling), so it needs no seed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from backpack.errors import ConfigError, DataError, invalid

PROBE_TASKS = ("ar", "oscc")
L2 = 1e-3  # per-sample penalty on the weights; small: the probe is a floor, not a tuned model


def pooled_units(ds: Any, task: str, split: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Mean feature row of each unit of ``split`` and its labels.

    AR: one unit per action (labels ``verb``, ``noun``); OSCC: one per clip (label ``state``).
    Shapes: -> X [M, D] float32, {output: [M] int64}.
    """
    from backpack.data.sampling import pool_segment

    if task == "ar":
        clips = ds.action_clips(split)
        x = [pool_segment(ds.features(c.video_uid), c.start_frame, c.end_frame)[0] for c in clips]
        labels = {"verb": [c.verb for c in clips], "noun": [c.noun for c in clips]}
    elif task == "oscc":
        clips = ds.state_clips(split)
        x = [pool_segment(ds.features(c.video_uid), c.start_frame, c.end_frame)[0] for c in clips]
        labels = {"state": [int(bool(c.state_change)) for c in clips]}
    else:
        raise ConfigError(invalid("task", "the linear probe", " or ".join(PROBE_TASKS), repr(task)))
    if not x:
        raise DataError(f"No {task!r} units in split {split!r} for the linear probe. Expected at least 1.")
    return np.stack(x).astype(np.float32), {k: np.asarray(v, dtype=np.int64) for k, v in labels.items()}


def fit_linear(x: np.ndarray, y: np.ndarray, classes: int, l2: float = L2, max_iter: int = 500) -> Any:
    """Multinomial logistic regression fitted to convergence; returns ``predict(X) -> logits``.

    Inputs are standardised with the statistics of ``x``. Shapes: x [M, D], y [M] -> callable.
    """
    import torch

    xt = torch.from_numpy(np.asarray(x, dtype=np.float64))
    mean, std = xt.mean(0), xt.std(0).clamp_min(1e-6)
    xs = (xt - mean) / std
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    w = torch.zeros(xs.shape[1], classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xs @ w + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_, b_ = w.detach(), b.detach()

    def predict(x_new: np.ndarray) -> torch.Tensor:
        z = (torch.from_numpy(np.asarray(x_new, dtype=np.float64)) - mean) / std
        return z @ w_ + b_

    return predict


def linear_probe(
    data_root: str | os.PathLike[str],
    tasks: str | list[str] = PROBE_TASKS,
    *,
    features: str = "omnivore_video_swinl",
    split: str = "val",
    l2: float = L2,
    skip_missing: bool = False,
    limit: dict[str, int] | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Val metrics of the linear probe per task: AR ``verb_top1``/``noun_top1``, OSCC ``accuracy`` (%).

    Trained on the train split; ``split`` is scored with the task's own metric names, so the
    result sits beside ``evaluate``'s. ``limit`` {task: N} trains on the same seeded N units as
    ``backpack train --limit`` does for OSCC (one graph per clip); for AR it keeps N actions.
    """
    from backpack.data import Ego4DDataset
    from backpack.tasks.metrics import top1_accuracy

    names = [t.strip() for t in tasks.split(",")] if isinstance(tasks, str) else list(tasks)
    bad = [t for t in names if t not in PROBE_TASKS]
    if bad or not names:
        raise ConfigError(invalid("tasks", "the linear probe", f"some of {list(PROBE_TASKS)}", bad or names))
    ds = Ego4DDataset(data_root, features=features, skip_missing=skip_missing)
    sizes = {"verb": len(ds.taxonomy.verbs), "noun": len(ds.taxonomy.nouns), "state": 2}
    out: dict[str, dict[str, float]] = {}
    for t in names:
        x_tr, y_tr = pooled_units(ds, t, "train")
        n = (limit or {}).get(t)
        if n is not None:  # the seeded subset of Task.build_samples(limit=...)
            keep = np.random.default_rng([int(seed), 7919]).permutation(len(x_tr))[:n]
            x_tr, y_tr = x_tr[keep], {k: v[keep] for k, v in y_tr.items()}
        x_ev, y_ev = pooled_units(ds, t, split)
        import torch

        res = {}
        for k in y_tr:
            predict = fit_linear(x_tr, y_tr[k], sizes[k], l2)
            metric = "accuracy" if k == "state" else f"{k}_top1"
            res[metric] = top1_accuracy(predict(x_ev).float(), torch.from_numpy(y_ev[k]))
        out[t] = res
    return out


__all__ = ["L2", "PROBE_TASKS", "fit_linear", "linear_probe", "pooled_units"]
