"""Learn a novel task with the backpack (EgoPack) or without it (MTL+FT), load and evaluate it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from backpack.data.layout import data_change
from backpack.errors import ConfigError, DataError, RunError, StoreError
from backpack.pipeline.learner_runs import (
    LEARNER,
    LearnConfig,
    open_store,
    read_learn_config,
    store_content_hash,
)
from backpack.store.ref import split_ref


@dataclass
class LearnerRun:
    """A run of ``backpack learn``: its folder, settings, base run config, model and store."""

    dir: Path
    config: LearnConfig
    base: Any  # the base run's RunConfig
    taxonomy: Any
    model: Any  # NovelTaskModel
    metrics_history: list[dict[str, Any]]
    store: Any = None  # the opened Backpack (None for MTL+FT)

    kind = "learn"

    @property
    def model_config(self) -> Any:
        """The base run's RunConfig: it shapes the model and the data it reads."""
        return self.base

    @property
    def selected(self) -> dict[str, Any]:
        """Which weights were loaded: a learn run keeps its last epoch only."""
        history = self.metrics_history
        return {"select": "last", "epoch": history[-1].get("epoch") if history else None}


def _store_tasks(bp: Any, config: LearnConfig) -> dict[str, Any]:
    # a trained run uses the tasks it was trained with, even from a store that has grown since
    names = list(config.store_tasks) or [
        t for t in bp.task_names if not (config.replace and t == config.task)
    ]
    return {t: bp.task(t) for t in names}


def _build_model(base_model: Any, config: LearnConfig, taxonomy: Any, base: Any, bp: Any) -> Any:
    from backpack.models.novel import NovelTaskModel
    from backpack.tasks.registry import get_task

    outputs = get_task(config.task).outputs(taxonomy)
    if bp is not None and not config.no_backpack:
        from backpack.models.novel import check_store_against_run

        tasks = _store_tasks(bp, config)
        # checked even when k = 0, so `--k 0` fails on exactly the stores EgoPack would refuse
        check_store_against_run(
            {t: int(h.feat_dim) for t, h in base_model.heads.items()},
            tasks,
            config.task,
            where=f"store {bp.url!r} version {bp.version}",
        )
    else:
        tasks = None
    return NovelTaskModel(
        base_model,
        config.task,
        outputs,
        tasks,
        k=config.k,
        depth=config.depth,
        feat_dim=base.feat_dim,
        dropout=base.dropout,
    )


def learn_novel_task(
    data_root: str | os.PathLike[str],
    base_run: str | os.PathLike[str],
    store: str | None,
    out: str | os.PathLike[str],
    config: LearnConfig,
    *,
    device: str = "auto",
    features: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    resume: bool = False,
    storage_options: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> LearnerRun:
    """Train task ``config.task`` on top of ``base_run`` (and the store ``STORE[@TAG]``) into ``out``.

    Only the novel task's labels are used; backbone, heads, the new head and the interaction are
    trained jointly (paper section 3.3). ``config.no_backpack`` (or ``k = 0``) is MTL+FT.
    ``resume=True`` continues an interrupted run in ``out`` with the same settings (only ``epochs``
    may grow) and ends with the same weights and metrics as a run that never stopped.
    ``storage_options`` (s3: endpoint_url, key, secret, ...) open the store; never written to ``out``.
    ``on_epoch`` gets each epoch's record once it is saved (see :func:`~backpack.pipeline.trainer.fit`).
    """
    from backpack._io import atomic_write_json
    from backpack.data import Ego4DDataset
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.evaluate import check_data_fits, recorded_feature_time
    from backpack.pipeline.runs import load_run, run_kind, write_run_files
    from backpack.pipeline.trainer import fit
    from backpack.tasks.registry import get_task

    out_dir = Path(out)
    if resume:
        if run_kind(out_dir) != "learn":
            raise RunError(
                f"Cannot resume {str(out_dir)!r}: it holds no {LEARNER!r} (not a run of `backpack learn`)."
            )
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise RunError(
            f"Output folder {str(out_dir)!r} is not empty. Use --resume to continue it, or another --out."
        )
    dev = resolve_device(device)
    if run_kind(base_run) != "train":
        raise ConfigError(
            f"Invalid value for '--from': {str(base_run)!r} is a run of `backpack learn`. "
            "Expected a run of `backpack train` (the multi-task model to start from)."
        )
    base_run_obj = load_run(base_run, device="cpu", engine=config.engine)
    ds = Ego4DDataset(
        data_root,
        features=features or base_run_obj.config.features,
        cache_dir=cache_dir,
        tasks=[config.task],
        **recorded_feature_time(base_run_obj.config, features),
    )
    check_data_fits(base_run_obj, ds)
    bp = None
    if not config.no_backpack:
        if store is None:
            raise StoreError(
                "No store given. Pass --store STORE[@TAG], or --no-backpack for the MTL+FT baseline."
            )
        bp = open_store(store, storage_options)
        tasks = _store_tasks(bp, config)
        url = split_ref(store)[0]
        url = url if "://" in url else str(Path(url).resolve())  # evaluable from any working folder
        config = replace(
            config,
            store_url=url,
            store_version=int(bp.version),
            store_tasks=tuple(tasks),
            store_content=store_content_hash(bp, list(tasks)),
        )
    config = replace(
        config,
        base_run=str(Path(base_run).resolve()),
        data_fingerprint=ds.fingerprint(),
        data_files=ds.files_read(),
        feature_time=ds.feature_time.to_dict(),
    )
    if resume:
        before, now = read_learn_config(out_dir).to_dict(), config.to_dict()
        diff = [k for k in now if k not in ("epochs", "data_files") and before.get(k) != now[k]]
        if diff:
            raise RunError(
                f"Cannot resume {str(out_dir / LEARNER)!r}: settings differ in {diff}. "
                f"Expected {[before.get(k) for k in diff]}. Got {[now[k] for k in diff]}."
                + (
                    data_change(before.get("data_files") or {}, now["data_files"])
                    if "data_fingerprint" in diff
                    else ""
                )
            )
    torch.manual_seed(config.seed)  # the new head first, then the interaction: same head with or without it
    model = _build_model(base_run_obj.model, config, ds.taxonomy, base_run_obj.config, bp)
    task = get_task(config.task)
    node_input = base_run_obj.config.node_input  # the base backbone's inputs

    def draw(epoch: int | None) -> list:
        return task.build_samples(
            ds, "train", train=True, seed=config.seed, limit=config.limit, node_input=node_input, epoch=epoch
        )

    train = draw(1)
    if not train:
        raise DataError(
            f"No {config.task!r} training sample in {str(data_root)!r}. Expected at least 1. Got 0."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        val = (
            task.build_samples(ds, "val", train=False, seed=config.seed, node_input=node_input)
            if _has_val(ds, config.task)
            else []
        )
    from backpack.distributed import barrier, is_main_process

    barrier()  # every rank checked `out` before rank 0 writes into it
    if is_main_process() and not resume:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_run_files(out_dir, base_run_obj.config, ds.taxonomy)
        atomic_write_json(out_dir / LEARNER, config.to_dict())
    history = fit(
        model,
        {config.task: task},
        {config.task: train},
        {config.task: val} if val else {},
        epochs=config.epochs,
        lr=config.lr,
        parameters=param_groups(model, config),
        resample=lambda epoch: {config.task: draw(epoch)},
        batch_size=config.batch_size,
        seed=config.seed,
        device=dev,
        out_dir=out_dir,
        progress=progress,
        resume=resume,
        extra_state={"kind": "egopack", "task": config.task},
        on_epoch=on_epoch,
    )
    model.eval()
    return LearnerRun(out_dir, config, base_run_obj.config, ds.taxonomy, model, history, bp)


def param_groups(model: Any, config: LearnConfig) -> list[dict[str, Any]]:
    """Adam groups: the pre-trained backbone and heads at ``lr * base_lr_scale``, the new parts at ``lr``.

    EgoPack and MTL+FT get the same groups (their shared parts are trained alike).
    """
    base = list(model.base.parameters())
    ids = {id(p) for p in base}
    new = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": base, "lr": config.lr * config.base_lr_scale}, {"params": new, "lr": config.lr}]


def _has_val(ds: Any, task: str) -> bool:
    from backpack.data import layout

    return layout.annotation_file(Path(ds.root), task, "val").is_file()


def load_learner_run(
    run_dir: str | os.PathLike[str],
    device: str = "cpu",
    engine: str | None = None,
    store: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> LearnerRun:
    """Load a ``backpack learn`` run with the store version it was trained with.

    ``store`` (``STORE[@TAG]``) evaluates against another store or version on purpose; without it
    a store whose content at the recorded version differs from training time is refused.
    ``storage_options`` (s3: endpoint_url, key, secret, ...) open that store.
    """

    from backpack.pipeline.checkpoint import METRICS, WEIGHTS, load_weights, read_metrics
    from backpack.pipeline.runs import model_from_config, read_run_files

    run = Path(run_dir)
    if not run.is_dir():
        raise RunError(f"Run folder {str(run)!r} does not exist.")
    config = read_learn_config(run)  # a multi-task run is told apart before its files are checked
    _, base, taxonomy, _ = read_run_files(run)  # every checksum checked before anything is loaded
    bp = None
    if config.uses_backpack or (store is not None and not config.no_backpack):
        ref = store if store is not None else f"{config.store_url}@{config.store_version}"
        if store is None and "://" not in config.store_url and not Path(config.store_url).exists():
            raise StoreError(
                f"The store {config.store_url!r} recorded by run {str(run)!r} is missing (moved or deleted). "
                f"Give its new location with --store NEW_PATH@{config.store_version}."
            )
        bp = open_store(ref, storage_options)
        if store is None and store_content_hash(bp, list(config.store_tasks)) != config.store_content:
            raise StoreError(
                f"The store {config.store_url!r} version {config.store_version} is not the one run "
                f"{str(run)!r} "
                "was trained with (its prototypes differ). Pass --store STORE[@V] to evaluate against it "
                "anyway."
            )
    model = _build_model(model_from_config(base, taxonomy, engine), config, taxonomy, base, bp)
    load_weights(run / WEIGHTS, model)
    model.to(device).eval()
    history = read_metrics(run / METRICS)
    return LearnerRun(run, config, base, taxonomy, model, history, bp)


def evaluate_learner_run(
    run_dir: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    split: str = "val",
    device: str = "auto",
    *,
    store: str | None = None,
    features: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    skip_missing: bool = False,
    engine: str | None = None,
    batch_size: int = 32,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics of a ``backpack learn`` run on ``split``: :func:`~backpack.pipeline.evaluate.evaluate_run`.

    ``storage_options`` (s3: endpoint_url, key, secret, ...) open the run's store (or ``store``).
    """
    from backpack.pipeline.evaluate import evaluate_run
    from backpack.pipeline.runs import run_kind

    if run_kind(run_dir) != "learn":
        raise RunError(f"Cannot evaluate {str(run_dir)!r} as a learn run: it holds no {LEARNER!r}.")
    return evaluate_run(
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


__all__ = [
    "LearnerRun",
    "evaluate_learner_run",
    "learn_novel_task",
    "load_learner_run",
]
