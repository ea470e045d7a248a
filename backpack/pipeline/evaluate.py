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
    store: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Evaluate a saved run of either kind on ``split`` of the data at ``data_root`` (``backpack evaluate``).

    A run of ``backpack learn`` is evaluated with its recorded store version, or ``store``
    (``storage_options`` open it); both are refused for a run of ``backpack train``.

    Raises
    ------
    DataError
        When the data's label vocabulary or feature dimension differs from the run's, or a task of
        the run has no sample in ``split``.
    RunError
        For a missing, incomplete or incompatible run folder.
    """
    from backpack.data import Ego4DDataset
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.runs import load_run, run_kind

    if run_kind(run_dir) == "learn":
        from backpack.pipeline.learn import evaluate_learner_run

        return evaluate_learner_run(
            run_dir,
            data_root,
            split,
            device,
            store=store,
            features=features,
            cache_dir=cache_dir,
            skip_missing=skip_missing,
            engine=engine,
            batch_size=batch_size,
            storage_options=storage_options,
        )
    dev = resolve_device(device)
    run = load_run(run_dir, device=str(dev), engine=engine, store=store, storage_options=storage_options)
    ds = Ego4DDataset(
        data_root,
        features=features or run.config.features,
        cache_dir=cache_dir,
        skip_missing=skip_missing,
        tasks=list(run.config.tasks),
        splits=[split],
        **recorded_feature_time(run.config, features),
    )
    check_data_fits(run, ds)
    samples = {}
    for name, task in run.model.tasks.items():
        samples[name] = task.build_samples(ds, split, train=False, seed=run.config.seed)
        if not samples[name]:
            raise DataError(
                f"No {name!r} sample in split {split!r} of {str(data_root)!r}. Expected at least 1. Got 0."
            )
    return evaluate_model(
        run.model, run.model.tasks, samples, dev, batch_size=batch_size, seed=run.config.seed
    )


def recorded_feature_time(config: Any, features: str | None = None) -> dict[str, int]:
    """``feature_stride``/``feature_window`` of the run's recorded feature time, for its own features.

    A run trained on a feature folder given ``--feature-stride`` reads it again with the same
    mapping; other features (or a run from before the mapping was recorded) use the table.
    """
    ft = getattr(config, "feature_time", None) or {}
    if not ft or (features is not None and features != config.features):
        return {}
    return {"feature_stride": int(ft["stride"]), "feature_window": int(ft["window"])}


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
    if ds.feature_dim != run.model_config.in_dim:
        raise DataError(
            f"Invalid value for 'feature dimension' in {str(ds.root)!r}. Expected {run.model_config.in_dim} "
            f"(run {str(run.dir)!r}). Got {ds.feature_dim}."
        )
