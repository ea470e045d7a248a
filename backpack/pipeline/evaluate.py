"""Evaluation of a model (or a saved run) on the tasks it was trained for."""

from __future__ import annotations

import os
from typing import Any

import torch

from backpack.backbone.graph import GraphSample
from backpack.errors import DataError
from backpack.tasks.base import Task


def evaluate_model(
    model: Any,
    tasks: dict[str, Task],
    samples: dict[str, list[GraphSample]],
    device: str | torch.device = "cpu",
    *,
    batch_size: int = 32,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Metrics of every task that has samples, e.g. ``{"ar": {"verb_top1": .., "noun_top1": ..}}``.

    LTA samples its K sequences with a generator seeded with ``seed``: results are reproducible.
    """
    return {
        name: tasks[name].evaluate(model, samples[name], batch_size=batch_size, device=device, seed=seed)
        for name in tasks
        if name in samples
    }


def evaluate_run(
    run_dir: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    split: str = "val",
    device: str = "auto",
    *,
    features: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    skip_missing: bool = False,
    engine: str | None = None,
    batch_size: int = 32,
    select: str = "last",
) -> dict[str, dict[str, float]]:
    """Evaluate a saved run on ``split`` of the data at ``data_root`` (JSON shape of ``backpack evaluate``).

    ``select`` picks the weights: "last" (the last finished epoch) or "best" (the best epoch by the
    run's selection metric); the choice is logged on stderr.

    Raises
    ------
    DataError
        When the data's label vocabulary or feature dimension differs from the run's, or a task of
        the run has no sample in ``split``.
    RunError
        For a missing, incomplete or incompatible run folder.
    """
    from backpack.data import Ego4DDataset
    from backpack.pipeline.runs import load_run
    from backpack.pipeline.trainer import resolve_device

    dev = resolve_device(device)
    run = load_run(run_dir, device=str(dev), engine=engine, select=select)
    _say_weights(run)
    ds = Ego4DDataset(
        data_root, features=features or run.config.features, cache_dir=cache_dir, skip_missing=skip_missing
    )
    check_data_fits(run, ds)
    samples = {}
    for name, task in run.model.tasks.items():
        samples[name] = task.build_samples(
            ds, split, train=False, seed=run.config.seed, node_input=run.config.node_input
        )
        if not samples[name]:
            raise DataError(
                f"No {name!r} sample in split {split!r} of {str(data_root)!r}. Expected at least 1. Got 0."
            )
    return evaluate_model(
        run.model, run.model.tasks, samples, dev, batch_size=batch_size, seed=run.config.seed
    )


def check_data_fits(run: Any, ds: Any) -> None:
    """Refuse data whose vocabulary or feature dimension differs from the run's."""
    if tuple(ds.taxonomy.verbs) != tuple(run.taxonomy.verbs) or tuple(ds.taxonomy.nouns) != tuple(
        run.taxonomy.nouns
    ):
        raise DataError(
            f"The taxonomy of {str(ds.root)!r} differs from the vocabulary of run {str(run.dir)!r}. Expected "
            f"{len(run.taxonomy.verbs)} verbs / {len(run.taxonomy.nouns)} nouns. Got "
            f"{len(ds.taxonomy.verbs)} / {len(ds.taxonomy.nouns)} (or different names)."
        )
    if ds.feature_dim != run.config.in_dim:
        raise DataError(
            f"Invalid value for 'feature dimension' in {str(ds.root)!r}. Expected {run.config.in_dim} "
            f"(run {str(run.dir)!r}). Got {ds.feature_dim}."
        )


def _say_weights(run: Any) -> None:
    import sys

    sel = run.selected
    extra = f", {sel['metric']} = {sel['value']:.3f}" if sel.get("select") == "best" else ""
    print(
        f"Using the {sel.get('select', 'last')} epoch ({sel.get('epoch')}{extra}) of {run.dir}.",
        file=sys.stderr,
    )
