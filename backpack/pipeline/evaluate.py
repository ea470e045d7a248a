"""Evaluation of a model (or a saved run) on the tasks it was trained for."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from backpack.backbone.graph import GraphSample
from backpack.errors import DataError
from backpack.tasks._clips import node_input_of
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
    store: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Evaluate a saved run of either kind on ``split`` of the data at ``data_root`` (``backpack evaluate``).

    A run of ``backpack learn`` is evaluated with its recorded store version, or ``store``
    (``storage_options`` open it); both are refused for a run of ``backpack train``.

    ``select`` picks the weights: "last" (the last finished epoch) or "best" (the best epoch by the
    run's selection metric); the choice is logged on stderr.

    Raises
    ------
    DataError
        When the data's label vocabulary or feature dimension differs from the run's, or ``split``
        has no labels (a test split: use ``predict``). A task without any sample in ``split`` is
        scored NaN (with a count of 0 where it reports one) and a warning.
    RunError
        For a missing, incomplete or incompatible run folder.
    """
    from backpack.data import Ego4DDataset
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.runs import load_run

    dev = resolve_device(device)
    run = load_run(
        run_dir, device=str(dev), engine=engine, select=select, store=store, storage_options=storage_options
    )
    ds = Ego4DDataset(
        data_root,
        features=features or run.model_config.features,
        cache_dir=cache_dir,
        skip_missing=skip_missing,
        tasks=list(run.model.tasks),
        splits=[split],
        **recorded_feature_time(run.model_config, features),
    )
    check_data_fits(run, ds)
    refuse_unlabelled(ds, split, list(run.model.tasks), run_dir)
    print(describe_weights(run), file=sys.stderr)  # once the inputs are known to fit
    samples = {
        name: task.build_samples(
            ds, split, train=False, seed=run.config.seed, node_input=node_input_of(run.model)
        )
        for name, task in run.model.tasks.items()
    }
    for name, task in run.model.tasks.items():
        warn_no_samples(task, samples[name], split, data_root)
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


def warn_no_samples(task: Task, samples: list[GraphSample], split: str, data_root: Any) -> None:
    """Warn that a task has no graph in ``split`` (e.g. LTA clips shorter than N + Z): its metrics are NaN."""
    if not samples:
        need = f" ({task.requirement})" if hasattr(task, "requirement") else ""
        warnings.warn(
            f"No {task.name!r} sample in split {split!r} of {str(data_root)!r}{need}: its metrics are NaN.",
            stacklevel=3,
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
    if ds.feature_dim != run.model_config.in_dim:
        raise DataError(
            f"Invalid value for 'feature dimension' in {str(ds.root)!r}. Expected {run.model_config.in_dim} "
            f"(run {str(run.dir)!r}). Got {ds.feature_dim}."
        )


def unlabelled_split(ds: Any, split: str, tasks: list[str]) -> str | None:
    """The annotation file of ``split`` that holds no label for ``tasks`` (a test split), or None."""
    from backpack.data import layout

    for task in tasks:
        if not ds.is_labelled(split, task):
            return layout.annotation_file(Path(ds.root), task, split).name
    return None


def refuse_unlabelled(ds: Any, split: str, tasks: list[str], run_dir: Any) -> None:
    """``evaluate`` on a split without labels: say so and point at ``predict``."""
    name = unlabelled_split(ds, split, tasks)
    if name is not None:
        raise DataError(
            f"Split {split!r} has no labels ({name} is unannotated): it cannot be evaluated. Write "
            f"predictions for the challenge server instead: "
            f"backpack predict {run_dir} --data {ds.root} --split {split} --out FILE"
        )


def describe_weights(run: Any) -> str:
    """The line saying which epoch's weights of ``run`` are used (``evaluate`` and ``build`` print it)."""
    sel = run.selected
    extra = f", {sel['metric']} = {sel['value']:.3f}" if sel.get("select") == "best" else ""
    return f"Using the {sel.get('select', 'last')} epoch ({sel.get('epoch')}{extra}) of {run.dir}."
