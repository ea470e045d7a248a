"""``train_run``: what ``backpack train`` calls (data -> samples -> model -> fit -> run folder)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from backpack.data.layout import data_change
from backpack.errors import ConfigError, DataError, RunError, invalid
from backpack.pipeline.runs import (
    CONFIG,
    Run,
    RunConfig,
    model_from_config,
    read_config,
    write_run_files,
)

# The hyper-parameters train_run accepts as ``options``; their defaults are RunConfig's (one home).
OPTIONS = (
    "epochs", "seed", "model", "hidden", "layers", "feat_dim", "dropout", "lr", "weight_decay", "node_input",
    "standardize", "select_metric", "batch_size", "engine",
)  # fmt: skip


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
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    **options: Any,
) -> Run:
    """Train a multi-task (or single-task) model on ``tasks`` and write the RUN folder ``out``.

    ``options`` are the :class:`RunConfig` hyper-parameters (epochs, seed, model, hidden, layers,
    feat_dim, dropout, lr, batch_size, engine); their defaults are :class:`RunConfig`'s. With
    ``resume=True`` the run in ``out`` continues from its last finished epoch (its settings must
    match; ``epochs`` may grow).
    ``feature_stride`` / ``feature_window`` give the frames per feature row of a feature folder the
    table of known Ego4D sets does not hold (see :mod:`backpack.data.feature_sets`).
    ``on_epoch`` gets each epoch's record once it is saved (see :func:`~backpack.pipeline.trainer.fit`).

    Raises
    ------
    ConfigError, DataError, RunError
        Bad options, bad data, or an ``out`` folder that already holds another run.
    """
    from backpack import __version__
    from backpack.data import Ego4DDataset
    from backpack.distributed import barrier, is_main_process
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.trainer import fit
    from backpack.tasks.registry import get_task, parse_tasks

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(invalid("options", "train_run", f"some of {sorted(OPTIONS)}", unknown))
    opts = {name: getattr(RunConfig, name) for name in OPTIONS} | options
    names = parse_tasks(tasks)
    limit = dict(limit or {})
    for t in limit:
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
    from backpack.pipeline.selection import selection_metric

    select = selection_metric(config.select_metric, names)
    run_dir = Path(out)
    if resume:
        previous = read_config(run_dir)
        diff = previous.compatible_with(config)
        if diff:
            raise RunError(
                f"Cannot resume {str(run_dir / CONFIG)!r}: settings differ in {diff}. "
                f"Expected {[previous.to_dict()[k] for k in diff]}. Got "
                f"{[config.to_dict()[k] for k in diff]}."
                + (data_change(previous.data_files, config.data_files) if "data_fingerprint" in diff else "")
            )
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(
            f"Output folder {str(run_dir)!r} is not empty. Use --resume to continue it, or another --out."
        )
    barrier()  # every rank checked the folder before rank 0 writes into it
    torch.manual_seed(config.seed)  # initial weights
    model = model_from_config(config, ds.taxonomy, engine=config.engine)

    def draw(epoch: int | None) -> dict[str, list]:
        # the training draw of one epoch (None: the one before the first epoch), from (seed, epoch)
        return {
            t: get_task(t).build_samples(
                ds,
                "train",
                train=True,
                seed=config.seed,
                limit=limit.get(t),
                node_input=config.node_input,
                epoch=epoch,
            )
            for t in names
        }

    train = draw(1)  # sizes and checks; fit asks for each epoch's draw (cached for epoch 1)
    val = {}
    for t in names:
        if not train[t]:
            raise DataError(f"No {t!r} training sample in {str(data_root)!r}. Expected at least 1. Got 0.")
        val[t] = _val_samples(ds, t, config.seed, config.node_input)
    if config.standardize:  # deterministic: a resumed run recomputes the same (then loads them)
        model.backbone.set_input_stats(*input_stats(ds, names, config.node_input))
    if is_main_process():  # only rank 0 writes the RUN folder
        write_run_files(run_dir, config, ds.taxonomy)
    history = fit(
        model,
        model.tasks,
        train,
        val,
        epochs=config.epochs,
        lr=config.lr,
        weight_decay=config.weight_decay,
        resample=draw,
        select=select,
        batch_size=config.batch_size,
        seed=config.seed,
        device=dev,
        out_dir=run_dir,
        resume=resume,
        progress=progress,
        extra_state={"kind": "multitask"},
        on_epoch=on_epoch,
    )
    model.eval()
    return Run(run_dir, config, ds.taxonomy, model, history, epoch=config.epochs)


def input_stats(ds: Any, tasks: list[str], node_input: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of the train split's node inputs (no augmentation), over ``tasks``.

    Every node slot of every training graph counts once; LTA's future nodes (copies of the
    observed mean) are left out. Shapes: -> ([D], [D]).
    """
    from backpack.tasks.registry import get_task

    rows = []
    for t in tasks:
        for s in get_task(t).build_samples(ds, "train", train=False, seed=0, node_input=node_input):
            x = s.x[: getattr(get_task(t), "observed", len(s.x))] if t == "lta" else s.x
            rows.append(x.reshape(-1, x.shape[-1]).double())
    allrows = torch.cat(rows)
    return allrows.mean(0).float(), allrows.std(0).float()


def _val_samples(ds: Any, task: str, seed: int, node_input: str = "sample") -> list:
    """Validation graphs, or none (with a warning) when the data has no validation file for the task."""
    import warnings

    from backpack.data import layout
    from backpack.tasks.registry import get_task

    path = layout.annotation_file(Path(ds.root), task, "val")
    if not path.is_file():
        warnings.warn(
            f"No validation file {str(path)!r}: task {task!r} trains without validation metrics.",
            stacklevel=2,
        )
        return []
    return get_task(task).build_samples(ds, "val", train=False, seed=seed, node_input=node_input)
