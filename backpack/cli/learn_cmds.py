"""``backpack build``, ``backpack learn`` and ``backpack explain`` (EgoPack).

Only click and the standard library at import time; torch and the learner load inside commands.
"""

from __future__ import annotations

import click

from backpack.cli._common import apply_preset, echo_json, handle_errors, log, preset_option, report_run
from backpack.cli._nproc import nproc_option  # click + stdlib only
from backpack.cli._store_args import parse_storage_options, storage_option_flag
from backpack.pipeline.learner_runs import LearnConfig  # torch-free: the defaults of a learn run


def _main_process() -> bool:
    from backpack.distributed import is_main_process

    return is_main_process()


@click.command("build")
@nproc_option  # --nproc N: rerun under torchrun
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@click.option(
    "--data", "data", required=True, type=click.Path(file_okay=False), help="Data root (Ego4D layout)."
)
@click.option("--store", "store", required=True, help="Store to publish to (created if missing).")
@storage_option_flag
@click.option("--tag", default=None, help="Tag the new version with NAME.")
@click.option("--message", "-m", default=None, help="Log message of the new version.")
@click.option(
    "--add-task",
    "add_task",
    default=None,
    metavar="T",
    help="RUN is a `backpack learn` run of T: add only T's prototypes on top of its store version.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:i].")
@click.option(
    "--graph-engine",
    "engine",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "dgl", "native"]),
)
@click.option("--batch-size", "batch_size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--select",
    default="last",
    show_default=True,
    type=click.Choice(["last", "best"]),
    help="Weights of a `backpack train` RUN: its last epoch, or its best by the selection metric.",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the result as JSON on stdout.")
@handle_errors
def build_cmd(
    run_dir: str,
    data: str,
    store: str,
    storage_option: tuple[str, ...],
    tag: str | None,
    message: str | None,
    add_task: str | None,
    device: str,
    engine: str,
    batch_size: int,
    select: str,
    as_json: bool,
) -> None:
    """Build the backpack: per-(verb, noun) prototypes of every head of RUN, as a new store version.

    Forwards the AR train clips (centred sub-segments) through RUN's backbone and heads and
    averages each head's features per (verb, noun) pair (float64 sums, streaming).

    \b
    Examples:
      backpack build runs/mtl --data data/ --store store/ --tag mtl-v1
      backpack build runs/oscc --data data/ --store store/ --add-task oscc
      backpack build runs/mtl --data data/ --store s3://bucket/egopack --tag v1 --nproc 2   # torchrun
      backpack build runs/mtl --data data/ --store s3://bucket/egopack \\
          --storage-option endpoint_url=http://127.0.0.1:9000 --storage-option key=KEY --storage-option secret=SECRET
    """
    storage_options = parse_storage_options(storage_option)  # bad syntax: exit 2 before any work
    from backpack.data import Ego4DDataset
    from backpack.pipeline.build import build_prototypes
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.evaluate import describe_weights
    from backpack.pipeline.runs import load_run, run_kind

    dev = str(resolve_device(device))
    # a learn run's store (its recorded URL) is opened with the same options as the target store
    options = storage_options if run_kind(run_dir) == "learn" else None
    run = load_run(run_dir, device=dev, engine=engine, select=select, storage_options=options)
    log(describe_weights(run))
    from backpack.pipeline.evaluate import recorded_feature_time

    # the prototypes come from the AR train clips only: the other files are not read
    ds = Ego4DDataset(
        data,
        features=run.model_config.features,
        tasks=["ar"],
        splits=["train"],
        **recorded_feature_time(run.model_config),
    )
    version = build_prototypes(
        run,
        ds,
        store,
        tag=tag,
        message=message,
        add_task=add_task,
        batch_size=batch_size,
        device=dev,
        progress=not as_json,
        storage_options=storage_options,
    )
    if not _main_process():  # under torchrun only rank 0 reports
        return
    result = {"store": store, "version": version, "tag": tag, "added_task": add_task}
    if as_json:
        echo_json(result)
    else:
        log(f"Published version {version} of {store}" + (f" (tag {tag})" if tag else "") + ".")


@click.command("learn")
@nproc_option  # --nproc N: rerun under torchrun
@click.option("--task", "task", required=True, help="The novel task: ar, lta, oscc or pnr.")
@click.option(
    "--data", "data", required=True, type=click.Path(file_okay=False), help="Data root (Ego4D layout)."
)
@click.option("--from", "base", required=True, type=click.Path(file_okay=False), help="The multi-task RUN.")
@click.option(
    "--store", "store", default=None, help="STORE[@TAG]: the backpack (not needed with --no-backpack)."
)
@storage_option_flag
@click.option("--out", required=True, type=click.Path(file_okay=False), help="RUN2 folder to write.")
@click.option(
    "--k",
    "k",
    default=LearnConfig.k,
    show_default=True,
    type=click.IntRange(min=0),
    help="Nearest prototypes per layer (0 = no interaction, i.e. MTL+FT).",
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
@click.option("--epochs", default=LearnConfig.epochs, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=LearnConfig.lr, show_default=True, type=click.FloatRange(min=0, min_open=True))
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
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:i].")
@click.option(
    "--graph-engine",
    "engine",
    default=LearnConfig.engine,
    show_default=True,
    type=click.Choice(["auto", "dgl", "native"]),
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out (same settings).")
@click.option("--json", "as_json", is_flag=True, help="Print only the final metrics as JSON on stdout.")
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
    as_json: bool,
) -> None:
    """Learn a novel task with the backpack (EgoPack, eq. 3) or without it (--no-backpack: MTL+FT).

    \b
    Examples:
      backpack learn --task oscc --data data/ --from runs/mtl --store store/@mtl-v1 --out runs/oscc
      backpack learn --task oscc --data data/ --from runs/mtl --no-backpack --out runs/oscc-ft
      backpack learn --task oscc --data ~/ego4d/v1 --from runs/mtl --store store/ --out runs/o --preset paper
      backpack learn --task oscc --data data/ --from runs/mtl --store store/ --out runs/k8 --k 8 --limit 100
      backpack learn --task oscc --data data/ --from runs/mtl --store store/@v1 --out runs/oscc --nproc 2
      backpack learn --task oscc --data data/ --from runs/mtl --store s3://bucket/egopack@v1 --out runs/oscc \\
          --storage-option endpoint_url=http://127.0.0.1:9000 --storage-option key=KEY --storage-option secret=SECRET
    """
    storage_options = parse_storage_options(storage_option)  # bad syntax: exit 2 before any work
    from backpack.pipeline.learn import learn_novel_task
    from backpack.pipeline.learner_runs import LearnConfig
    from backpack.tasks.registry import get_task

    get_task(task)  # unknown names list the known ones
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
    run = learn_novel_task(
        data,
        base,
        store,
        out,
        config,
        device=device,
        progress=not as_json,
        resume=resume,
        storage_options=storage_options,
    )
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


@click.command("explain")
@click.argument("run_dir", metavar="RUN2", type=click.Path(file_okay=False))
@click.option(
    "--data", "data", required=True, type=click.Path(file_okay=False), help="Data root (Ego4D layout)."
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the PNG files.")
@click.option("--store", "store", default=None, help="STORE[@V] to use instead of the one RUN2 recorded.")
@storage_option_flag
@click.option("--split", default="val", show_default=True, help="Annotation split to explain.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:i].")
@click.option("--json", "as_json", is_flag=True, help="Print only the list of written files as JSON.")
@handle_errors
def explain_cmd(
    run_dir: str,
    data: str,
    out: str,
    store: str | None,
    storage_option: tuple[str, ...],
    split: str,
    device: str,
    as_json: bool,
) -> None:
    """Pictures of what a `backpack learn` run retrieves (paper Fig. 5) and, for AR, confusion matrices (Fig. 6).

    \b
    Examples:
      backpack explain runs/oscc --data data/ --out pictures/
      backpack explain runs/ar --data data/ --out pictures/ --json
      backpack explain runs/oscc --data data/ --out pictures/ --storage-option endpoint_url=http://127.0.0.1:9000
    """
    storage_options = parse_storage_options(storage_option)
    from backpack.pipeline.explain import explain_run

    files = explain_run(
        run_dir, data, out, store=store, split=split, device=device, storage_options=storage_options
    )
    if as_json:
        echo_json({"files": [str(f) for f in files]})
    else:
        for f in files:
            log(f"wrote {f}")
