"""``backpack predict``: a thin command over :func:`backpack.pipeline.predict.predict_run`."""

from __future__ import annotations

import click

from backpack.cli._common import (
    data_option,
    device_option,
    echo_json,
    graph_engine_option,
    handle_errors,
    json_option,
    json_safe,
    log,
    skip_missing_option,
)
from backpack.cli._store_args import parse_storage_options, storage_option_flag


@click.command("predict")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@data_option(exists=False)
@click.option(
    "--split", default="test", show_default=True, help="Split to predict (test: the unannotated files)."
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(),
    help="Prediction FILE; for several tasks, a folder that gets one <task>.json per task.",
)
@click.option(
    "--task",
    "tasks",
    multiple=True,
    help="Predict only this task of RUN (repeatable); default every task RUN predicts.",
)
@click.option(
    "--lta-windows",
    "lta_windows",
    default="official",
    show_default=True,
    type=click.Choice(["official", "challenge"]),
    help="official: every window of the current EGO4D/forecasting code; challenge: each clip's last "
    "window left out, as the challenge's test keys were made (docs/ego4d.md).",
)
@device_option
@graph_engine_option
@click.option("--batch-size", "batch_size", default=32, show_default=True, type=click.IntRange(min=1))
@skip_missing_option
@click.option(
    "--store",
    "store",
    default=None,
    metavar="STORE[@V]",
    help="For a `backpack learn` run: predict with this store (version) instead of the recorded one.",
)
@storage_option_flag
@json_option
@handle_errors
def predict_cmd(
    run_dir: str,
    data: str,
    split: str,
    out: str,
    tasks: tuple[str, ...],
    lta_windows: str,
    device: str,
    engine: str,
    batch_size: int,
    skip_missing: bool,
    store: str | None,
    storage_option: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write RUN's predictions on a split in the Ego4D challenge formats (docs/ego4d.md).

    LTA: {"<clip_uid>_<last observed action_idx>": {"verb": K x Z, "noun": K x Z}} (K = 5, Z = 20);
    OSCC: [{"unique_id", "state_change"}]; PNR: [{"unique_id", "pnr_frame"}] (frames from the
    clip's parent_start_frame); AR: {"<clip_uid>_<action_idx>": {"verb", "noun"}}. A learn run
    predicts its novel task with the store version it was trained with. Every window, clip or
    action must get exactly one prediction (exit 1 otherwise).

    \b
    Examples:
      backpack predict runs/mtl --data ~/ego4d/v1 --split test --out submission/   # one file per task
      backpack predict runs/mtl --data ~/ego4d/v1 --task lta --out lta_test.json
      backpack predict runs/oscc --data ~/ego4d/v1 --out oscc_test.json --json     # a learn run
    """
    from backpack.cli.train_cmds import _show_warnings
    from backpack.pipeline.predict import predict_run

    _show_warnings()
    summary = predict_run(
        run_dir,
        data,
        split,
        out,
        tasks=list(tasks) or None,
        device=device,
        engine=engine,
        batch_size=batch_size,
        skip_missing=skip_missing,
        store=store,
        storage_options=parse_storage_options(storage_option),
        progress=not as_json,
        lta_windows=lta_windows,
    )
    if as_json:
        echo_json(json_safe(summary))
        return
    for task, path in summary["files"].items():
        log(f"{task}: {summary['predictions'][task]} predictions -> {path}")
