"""``backpack explain`` (paper Figs. 5 and 6) and ``backpack curves`` (training curves).

Only click and the standard library at import time; torch loads inside ``explain`` only.
"""

from __future__ import annotations

import click

from backpack.cli import _checks
from backpack.cli._common import (
    data_option,
    device_option,
    echo_json,
    figure_options,
    handle_errors,
    json_option,
    log,
    skip_missing_option,
)
from backpack.cli._store_args import parse_storage_options, storage_option_flag


@click.command(
    "explain", short_help="Draw what a `learn` run retrieves (paper Fig. 5) and AR confusions (Fig. 6)."
)
@click.argument("run_dir", metavar="RUN2", type=click.Path(exists=True, file_okay=False))
@data_option(exists=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the figures.")
@click.option(
    "--store",
    "store",
    default=None,
    help="STORE[@V] to use instead of the one RUN2 recorded (e.g. its new place after a move).",
)
@storage_option_flag
@click.option(
    "--split", default="val", show_default=True, type=_checks.split_choice(), help="Annotation split."
)
@device_option
@skip_missing_option
@figure_options
@json_option
@handle_errors
def explain_cmd(
    run_dir: str,
    data: str,
    out: str,
    store: str | None,
    storage_option: tuple[str, ...],
    split: str,
    device: str,
    skip_missing: bool,
    fmt: str,
    dpi: int,
    as_json: bool,
) -> None:
    """Draw what a `backpack learn` RUN2 retrieves from the backpack (paper Fig. 5): per predicted
    class, the verbs of the retrieved prototypes against chance; for AR also the confusion
    matrices of the 20 largest verb and noun classes (Fig. 6). Each figure's footer names the run,
    the store version and the split.

    \b
    Examples:
      backpack explain runs/oscc --data data/ --out pictures/
      backpack explain runs/ar --data data/ --out pictures/ --format pdf --json
      backpack explain runs/oscc --data data/ --out pictures/ --store moved/store@2   # the store moved
    """
    storage_options = parse_storage_options(storage_option)
    _checks.check_run_dir(run_dir, "RUN2", "learn")  # cheap, before torch
    from backpack.pipeline.explain import explain_run

    files = explain_run(
        run_dir,
        data,
        out,
        store=store,
        split=split,
        device=device,
        storage_options=storage_options,
        fmt=fmt,
        dpi=dpi,
        skip_missing=skip_missing,
    )
    if as_json:
        echo_json({"files": [str(f) for f in files]})
    else:
        for f in files:
            log(f"wrote {f}")


@click.command("curves", short_help="Draw training curves (loss, validation metrics) of one or more runs.")
@click.argument(
    "runs", metavar="RUN [RUN...]", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False)
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the figures.")
@click.option(
    "--label",
    "labels",
    multiple=True,
    help="Legend name of each RUN, in order (default: the folder names); repeat once per RUN.",
)
@figure_options
@json_option
@handle_errors
def curves_cmd(
    runs: tuple[str, ...], out: str, labels: tuple[str, ...], fmt: str, dpi: int, as_json: bool
) -> None:
    """Draw the per-epoch records (metrics.jsonl) of `train` and `learn` runs: one figure per task,
    its training loss and validation metrics against epoch, the runs overlaid (e.g. single-task vs
    MTL+FT vs EgoPack).

    \b
    Examples:
      backpack curves runs/mtl --out curves/
      backpack curves runs/oscc-st runs/oscc-ft runs/oscc --label single-task --label MTL+FT \\
          --label EgoPack --out curves/ --format pdf
    """
    from backpack.pipeline.figures import write_curves

    if labels and len(labels) != len(runs):
        raise click.UsageError(f"Give --label once per RUN ({len(runs)}), or not at all. Got {len(labels)}.")
    files = write_curves(runs, out, labels=labels or None, fmt=fmt, dpi=dpi)
    if as_json:
        echo_json({"files": [str(f) for f in files]})
    else:
        for f in files:
            log(f"wrote {f}")
