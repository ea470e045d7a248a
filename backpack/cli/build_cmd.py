"""``backpack build``: publish a run's prototypes as a store version (EgoPack, section 3.3).

Only click and the standard library at import time; torch and the learner load inside commands.
"""

from __future__ import annotations

import click

from backpack.cli import _checks
from backpack.cli._common import (
    EXIT_USAGE,
    data_option,
    device_option,
    echo_json,
    fail,
    graph_engine_option,
    handle_errors,
    interrupted,
    json_option,
    log,
    quiet_option,
    skip_missing_option,
)
from backpack.cli._nproc import nproc_option  # click + stdlib only
from backpack.cli._store_args import parse_storage_options, storage_option_flag


def _main_process() -> bool:
    from backpack.distributed import is_main_process

    return is_main_process()


@click.command(
    "build", short_help="Build the backpack: a RUN's per-(verb, noun) prototypes as a store version."
)
@nproc_option  # --nproc N: rerun under torchrun
@click.argument("run_dir", metavar="RUN", type=click.Path(exists=True, file_okay=False))
@data_option(exists=True)
@click.option("--store", "store", required=True, help="Store to publish to (created if missing).")
@storage_option_flag
@click.option("--tag", default=None, help="Tag the new version with NAME.")
@click.option("--message", "-m", default=None, help="Log message of the new version.")
@click.option(
    "--add-task",
    "add_task",
    default=None,
    metavar="T",
    type=_checks.task_choice(),
    help="RUN is a `backpack learn` run of T: add only T's prototypes on top of its store version "
    "(of --store, when the store the run recorded has moved).",
)
@skip_missing_option
@click.option(
    "--allow-empty",
    "allow_empty",
    is_flag=True,
    help="Publish a version even when its prototypes equal its parent's (default: skip it).",
)
@device_option
@graph_engine_option
@click.option("--batch-size", "batch_size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--select",
    default="last",
    show_default=True,
    type=click.Choice(["last", "best"]),
    help="Weights of a `backpack train` RUN: its last epoch, or its best by the selection metric.",
)
@json_option
@quiet_option
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
    skip_missing: bool,
    allow_empty: bool,
    as_json: bool,
    quiet: bool,
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
          --storage-option endpoint_url=http://127.0.0.1:9000 \\
          --storage-option key=KEY --storage-option secret=SECRET
    """
    storage_options = parse_storage_options(storage_option)  # bad syntax: exit 2 before any work
    # cheap checks first: a wrong path or store fails in a second, before torch and the data load
    _checks.check_store_target(store)
    learner_store = None
    if add_task is None:
        _checks.check_run_dir(run_dir, "RUN", "train")
    else:
        _checks.check_run_dir(run_dir, "RUN", "learn")
        from backpack.pipeline.learner_runs import read_learn_config
        from backpack.store.ref import split_ref

        recorded = read_learn_config(run_dir)
        if _checks.recorded_store_missing(recorded.store_url):
            # the store moved: the version the run used is read from --store
            learner_store = f"{split_ref(store)[0]}@{recorded.store_version}"
            if _checks.recorded_store_missing(split_ref(store)[0]):
                fail(
                    f"The store {recorded.store_url!r} recorded by run {run_dir!r} is missing (moved or "
                    f"deleted). Give its new location with --store NEW_PATH.",
                    EXIT_USAGE,
                )
    before = _published_versions(store, storage_options)
    from backpack.data import Ego4DDataset
    from backpack.pipeline.build import build_prototypes
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.evaluate import describe_weights, recorded_feature_time
    from backpack.pipeline.runs import load_run, run_kind

    dev = str(resolve_device(device))
    # a learn run's store (its recorded URL, or --store where it moved) opens with the same options
    learn = run_kind(run_dir) == "learn"
    run = load_run(
        run_dir,
        device=dev,
        engine=engine,
        select=select,
        store=learner_store if learn else None,
        storage_options=storage_options if learn else None,
    )
    log(describe_weights(run))
    # the prototypes come from the AR train clips only: the other files are not read
    ds = Ego4DDataset(
        data,
        features=run.model_config.features,
        skip_missing=skip_missing,
        tasks=["ar"],
        splits=["train"],
        **recorded_feature_time(run.model_config),
    )
    try:
        version = build_prototypes(
            run,
            ds,
            store,
            tag=tag,
            message=message,
            add_task=add_task,
            batch_size=batch_size,
            device=dev,
            progress=not (as_json or quiet),
            storage_options=storage_options,
            allow_empty=allow_empty,
        )
    except KeyboardInterrupt:
        unchanged = f"its latest version is still {before[-1]}" if before else "it held no version"
        interrupted(f"No new version: the store {store} is unchanged ({unchanged}).", extra=())
        return
    if not _main_process():  # under torchrun only rank 0 reports
        return
    skipped = version in before
    result = {"store": store, "version": version, "tag": tag, "added_task": add_task, "skipped": skipped}
    if as_json:
        echo_json(result)
    elif skipped:
        log(
            f"Nothing to publish: the prototypes equal those of version {version} of {store}"
            + (f" (tag {tag} now names it)" if tag else "")
            + ". Pass --allow-empty to publish a copy anyway."
        )
    else:
        log(f"Published version {version} of {store}" + (f" (tag {tag})" if tag else "") + ".")


def _published_versions(store: str, storage_options: dict | None) -> list[int]:
    """The versions ``store`` holds now (none when it does not exist yet): no torch."""
    from backpack.errors import NotFoundError
    from backpack.store import Backpack

    if not _checks.is_remote(store) and not __import__("os").path.exists(store):
        return []
    try:
        return list(Backpack.open(store, storage_options=storage_options).versions())
    except NotFoundError:
        return []
