"""``train_run``: what ``backpack train`` calls (data -> samples -> model -> fit -> run folder)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from backpack.data.layout import data_change
from backpack.errors import ConfigError, DataError, RunError, invalid
from backpack.pipeline.runs import CONFIG, Run, RunConfig, read_config, write_run_files

# The hyper-parameters train_run accepts as ``options``; their defaults are RunConfig's (one home).
OPTIONS = ("epochs", "seed", "model", "hidden", "layers", "feat_dim", "dropout", "lr", "batch_size", "engine")


def train_run(
    data_root: str | os.PathLike[str],
    tasks: str | list[str],
    out: str | os.PathLike[str],
    *,
    features: str = "omnivore_video_swinl",
    device: str = "auto",
    resume: bool = False,
    skip_missing: bool = False,
    limit: dict[str, int] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    feature_stride: int | None = None,
    feature_window: int | None = None,
    **options: Any,
) -> Run:
    """Train a multi-task (or single-task) model on ``tasks`` and write the RUN folder ``out``.

    ``options`` are the :class:`RunConfig` hyper-parameters (epochs, seed, model, hidden, layers,
    feat_dim, dropout, lr, batch_size, engine); their defaults are :class:`RunConfig`'s. With ``resume=True`` the run in
    ``out`` continues from its last finished epoch (its settings must match; ``epochs`` may grow).
    ``feature_stride`` / ``feature_window`` give the frames per feature row of a feature folder the
    table of known Ego4D sets does not hold (see :mod:`backpack.data.feature_sets`).

    Raises
    ------
    ConfigError, DataError, RunError
        Bad options, bad data, or an ``out`` folder that already holds another run.
    """
    from backpack import __version__
    from backpack.data import Ego4DDataset
    from backpack.distributed import barrier, is_main_process
    from backpack.models.multitask import build_model
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.trainer import fit
    from backpack.tasks.registry import get_task, parse_tasks

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(invalid("options", "train_run", f"some of {sorted(OPTIONS)}", unknown))
    opts = {name: getattr(RunConfig, name) for name in OPTIONS} | options
    names = parse_tasks(tasks)
    limit = dict(limit or {})
    for t, n in limit.items():
        if t not in names:
            raise ConfigError(invalid("limit", "train_run", f"a task among {names}", t))
    dev = resolve_device(device)
    ds = Ego4DDataset(
        data_root,
        features=features,
        cache_dir=cache_dir,
        skip_missing=skip_missing,
        tasks=names,
        feature_stride=feature_stride,
        feature_window=feature_window,
    )
    config = RunConfig(
        tasks=tuple(names),
        in_dim=ds.feature_dim,
        features=features,
        limit=limit,
        data_fingerprint=ds.fingerprint(),
        data_files=ds.files_read(),
        feature_time=ds.feature_time.to_dict(),
        backpack_version=__version__,
        **opts,
    )
    run_dir = Path(out)
    if resume:
        previous = read_config(run_dir)
        diff = previous.compatible_with(config)
        if diff:
            raise RunError(
                f"Cannot resume {str(run_dir / CONFIG)!r}: settings differ in {diff}. "
                f"Expected {[previous.to_dict()[k] for k in diff]}. Got {[config.to_dict()[k] for k in diff]}."
                + (data_change(previous.data_files, config.data_files) if "data_fingerprint" in diff else "")
            )
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(
            f"Output folder {str(run_dir)!r} is not empty. Use --resume to continue it, or another --out."
        )
    barrier()  # every rank checked the folder before rank 0 writes into it
    torch.manual_seed(config.seed)  # initial weights
    model = build_model(
        names,
        ds.taxonomy,
        ds.feature_dim,
        model=config.model,
        hidden=config.hidden,
        layers=config.layers,
        feat_dim=config.feat_dim,
        engine=config.engine,
        dropout=config.dropout,
    )
    train, val = {}, {}
    for t in names:
        train[t] = get_task(t).build_samples(ds, "train", train=True, seed=config.seed, limit=limit.get(t))
        if not train[t]:
            raise DataError(f"No {t!r} training sample in {str(data_root)!r}. Expected at least 1. Got 0.")
        val[t] = _val_samples(ds, t, config.seed)
    if is_main_process():  # only rank 0 writes the RUN folder
        write_run_files(run_dir, config, ds.taxonomy)
    history = fit(
        model,
        model.tasks,
        train,
        val,
        epochs=config.epochs,
        lr=config.lr,
        batch_size=config.batch_size,
        seed=config.seed,
        device=dev,
        out_dir=run_dir,
        resume=resume,
        progress=progress,
        extra_state={"kind": "multitask"},
    )
    model.eval()
    return Run(run_dir, config, ds.taxonomy, model, history, epoch=config.epochs)


def _val_samples(ds: Any, task: str, seed: int) -> list:
    """Validation graphs, or none (with a warning) when the data has no validation file for the task."""
    import warnings

    from backpack.data import layout
    from backpack.tasks.registry import get_task

    path = layout.annotation_file(Path(ds.root), task, "val")
    if not path.is_file():
        warnings.warn(f"No validation file {str(path)!r}: task {task!r} trains without validation metrics.")
        return []
    return get_task(task).build_samples(ds, "val", train=False, seed=seed)
