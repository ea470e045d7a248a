"""``backpack learn`` (EgoPack).

Only click and the standard library at import time; torch and the learner load inside commands.
"""

from __future__ import annotations

import click

from backpack.cli import _checks
from backpack.cli._common import (
    apply_preset,
    data_option,
    device_option,
    epoch_logger,
    graph_engine_option,
    handle_errors,
    interrupted,
    json_option,
    preset_option,
    quiet_option,
    report_run,
    saved_epoch,
    tensorboard_option,
)
from backpack.cli._nproc import nproc_option  # click + stdlib only
from backpack.cli._store_args import parse_storage_options, storage_option_flag
from backpack.pipeline.learner_runs import LearnConfig  # torch-free: the defaults of a learn run


def _main_process() -> bool:
    from backpack.distributed import is_main_process

    return is_main_process()


@click.command("learn", short_help="Learn a novel task with the backpack (EgoPack) or without it (MTL+FT).")
@nproc_option  # --nproc N: rerun under torchrun
@click.option("--task", "task", required=True, type=_checks.task_choice(), help="The novel task.")
@data_option(exists=True)
@click.option(
    "--from",
    "base",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="The multi-task RUN of `backpack train`.",
)
@click.option(
    "--store", "store", default=None, help="STORE[@TAG]: the backpack (not needed with --no-backpack)."
)
@storage_option_flag
@click.option("--out", required=True, type=click.Path(file_okay=False), help="RUN2 folder to write.")
@click.option(
    "--k",
    "-k",
    "k",
    default=LearnConfig.k,
    show_default=True,
    type=click.IntRange(min=0),
    help="Nearest prototypes per layer (0 = no interaction, i.e. MTL+FT); -k as in `query`.",
)
@click.option(
    "--depth",
    default=LearnConfig.depth,
    show_default=True,
    type=click.IntRange(min=1),
    help="Interaction layers.",
)
@click.option(
    "--no-backpack", "no_backpack", is_flag=True, help="Train the MTL+FT baseline: the new head only."
)
@click.option(
    "--replace", is_flag=True, help="Learn a task the backpack already holds (its prototypes unused)."
)
@click.option(
    "--limit", default=None, type=click.IntRange(min=1), help="Use only N labelled training samples."
)
@click.option(
    "--epochs",
    default=LearnConfig.epochs,
    show_default=True,
    type=click.IntRange(min=1),
    help="Passes over the labels.",
)
@click.option(
    "--lr",
    default=LearnConfig.lr,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Adam learning rate of the new parts.",
)
@click.option(
    "--base-lr-scale",
    "base_lr_scale",
    default=LearnConfig.base_lr_scale,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Learning rate of the pre-trained backbone and heads = lr x this (new parts: lr).",
)
@click.option(
    "--batch-size",
    "batch_size",
    default=LearnConfig.batch_size,
    show_default=True,
    type=click.IntRange(min=1),
)
@preset_option
@click.option("--seed", default=LearnConfig.seed, show_default=True, type=int)
@device_option
@graph_engine_option
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out (same settings).")
@tensorboard_option
@json_option
@quiet_option
@handle_errors
def learn_cmd(
    task: str,
    data: str,
    base: str,
    store: str | None,
    storage_option: tuple[str, ...],
    out: str,
    k: int,
    depth: int,
    no_backpack: bool,
    replace: bool,
    limit: int | None,
    epochs: int,
    lr: float,
    base_lr_scale: float,
    batch_size: int,
    preset: str,
    seed: int,
    device: str,
    engine: str,
    resume: bool,
    tensorboard: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Learn a novel task with the backpack (EgoPack, eq. 3) or without it (--no-backpack: MTL+FT).

    \b
    Examples:
      backpack learn --task oscc --data data/ --from runs/mtl --store store/@mtl-v1 --out runs/oscc
      backpack learn --task oscc --data data/ --from runs/mtl --no-backpack --out runs/oscc-ft
      backpack learn --task oscc --data ~/ego4d/v1 --from runs/mtl --store store/ --out runs/o --preset paper
      backpack learn --task oscc --data data/ --from runs/mtl --store store/ --out runs/k8 -k 8 --limit 100
      backpack learn --task oscc --data data/ --from runs/mtl --store store/@v1 --out runs/oscc --nproc 2
      backpack learn --task oscc --data data/ --from runs/mtl --store s3://bucket/egopack@v1 \\
          --out runs/oscc           --storage-option endpoint_url=http://127.0.0.1:9000 \\
          --storage-option key=KEY --storage-option secret=SECRET
    """
    storage_options = parse_storage_options(storage_option)  # bad syntax: exit 2 before any work
    on_epoch, close_log = epoch_logger(tensorboard)  # a missing tensorboard package fails here
    # cheap checks first (no torch yet): a wrong flag, run or store fails in a second
    if no_backpack and store is not None:
        raise click.UsageError(
            "--store and --no-backpack exclude each other: the MTL+FT baseline reads no store."
        )
    _checks.check_run_dir(base, "--from", "train")
    if not no_backpack and k > 0:
        if store is None:
            raise click.UsageError(
                "Missing option '--store' (or pass --no-backpack for the MTL+FT baseline)."
            )
        bp = _checks.open_store_ref(store, storage_options)
        _checks.check_k(bp, k, task, replace)
    from backpack.pipeline.learn import learn_novel_task
    from backpack.pipeline.learner_runs import LearnConfig

    chosen = apply_preset(
        preset,
        [task],
        dict(epochs=epochs, lr=lr, batch_size=batch_size, base_lr_scale=base_lr_scale),
        learn=True,
    )
    epochs, lr, batch_size, base_lr_scale = (
        chosen[k] for k in ("epochs", "lr", "batch_size", "base_lr_scale")
    )
    config = LearnConfig(
        task=task,
        k=k,
        depth=depth,
        no_backpack=no_backpack,
        replace=replace,
        limit=limit,
        epochs=epochs,
        lr=lr,
        base_lr_scale=base_lr_scale,
        batch_size=batch_size,
        seed=seed,
        engine=engine,
    )
    try:
        run = learn_novel_task(
            data,
            base,
            store,
            out,
            config,
            device=device,
            progress=not (as_json or quiet),
            on_epoch=on_epoch,
            resume=resume,
            storage_options=storage_options,
        )
    except KeyboardInterrupt:
        interrupted(saved_epoch(out, epochs))
        return
    finally:
        close_log()
    if not _main_process():  # under torchrun only rank 0 reports
        return
    report_run(
        run.dir,
        run.metrics_history,
        as_json,
        task=task,
        store=run.config.store_url or None,
        store_version=run.config.store_version,
    )
