"""``backpack train``: a thin command over :mod:`backpack.training`.

Only click and the standard library are imported at module level (``backpack --help`` imports
every CLI module); torch comes in when a command runs.
"""

from __future__ import annotations

import warnings

import click

from backpack.cli import _checks
from backpack.cli._common import (
    EXIT_USAGE,
    apply_preset,
    data_option,
    device_option,
    epoch_logger,
    fail,
    graph_engine_option,
    handle_errors,
    interrupted,
    json_option,
    log,
    preset_option,
    quiet_option,
    report_run,
    saved_epoch,
    show_data_log,
    skip_missing_option,
    tensorboard_option,
)
from backpack.cli._nproc import nproc_option
from backpack.pipeline.runs import RunConfig  # torch-free: the defaults of a run live there


def _parse_limits(values: tuple[str, ...]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for v in values:
        task, sep, n = v.partition("=")
        if not sep or not n.strip().isdigit() or int(n) < 1:
            fail(
                f"Invalid value for '--limit'. Expected TASK=N with N >= 1 (e.g. oscc=50). Got {v!r}.",
                EXIT_USAGE,
            )
        limits[task.strip()] = int(n)
    return limits


def _check_tasks(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--tasks ar,lta``: every name known (checked before anything is loaded)."""
    names = [t.strip() for t in value.split(",") if t.strip()]
    bad = [t for t in names if t not in _checks.TASKS]
    if not names or bad:
        raise click.BadParameter(
            (f"Unknown task {bad[0]!r}. " if bad else "")
            + f"Expected a comma-separated list of {', '.join(_checks.TASKS)}. Got {value!r}.",
            ctx,
            param,
        )
    return ",".join(names)


def _show_warnings() -> None:
    # library warnings (skipped clips, clipped frames) go to stderr as one line each
    warnings.showwarning = lambda msg, *a, **k: log(f"Warning: {msg}")  # type: ignore[assignment]
    show_data_log()


@click.command("train")
@nproc_option
@data_option(exists=False)
@click.option(
    "--tasks",
    required=True,
    callback=_check_tasks,
    help="Comma-separated tasks: ar, lta, oscc, pnr (one = single-task).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="RUN folder to write.")
@click.option(
    "--epochs",
    default=RunConfig.epochs,
    show_default=True,
    type=click.IntRange(min=1),
    help="Passes over the training data.",
)
@click.option(
    "--seed", default=RunConfig.seed, show_default=True, type=int, help="Seeds sampling, init and dropout."
)
@device_option
@click.option(
    "--model",
    "model",
    default=RunConfig.model,
    show_default=True,
    type=click.Choice(["graph", "mlp"]),
    help="graph: the temporal GNN backbone; mlp: the paper's MLP baseline.",
)
@graph_engine_option
@click.option(
    "--hidden",
    default=RunConfig.hidden,
    show_default=True,
    type=click.IntRange(min=1),
    help="Width of the backbone's nodes.",
)
@click.option(
    "--layers",
    default=RunConfig.layers,
    show_default=True,
    type=click.IntRange(min=1),
    help="Backbone layers.",
)
@click.option(
    "--feat-dim",
    "feat_dim",
    default=RunConfig.feat_dim,
    show_default=True,
    type=click.IntRange(min=1),
    help="Width of the task features f^k.",
)
@click.option(
    "--lr",
    default=RunConfig.lr,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Adam learning rate.",
)
@click.option(
    "--batch-size", "batch_size", default=RunConfig.batch_size, show_default=True, type=click.IntRange(min=1)
)
@preset_option
@click.option(
    "--node-input",
    "node_input",
    default=RunConfig.node_input,
    show_default=True,
    type=click.Choice(["mean", "submean", "sample"]),
    help="How a node's input is formed from its segment's feature rows: mean of all rows; mean of "
    "each of 3 sub-segments (TRN fusion); one row per sub-segment (random in training).",
)
@click.option(
    "--weight-decay",
    "weight_decay",
    default=RunConfig.weight_decay,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Decoupled weight decay (AdamW when > 0).",
)
@click.option(
    "--standardize/--no-standardize",
    default=RunConfig.standardize,
    show_default=True,
    help="Standardise input features with train-split statistics (stored in the run).",
)
@click.option(
    "--select-metric",
    "select_metric",
    default=RunConfig.select_metric,
    help="Validation metric TASK.METRIC of the best epoch kept beside the last (default: the first "
    "task's first metric, e.g. ar.verb_top1).",
)
@click.option("--features", default=RunConfig.features, show_default=True, help="Feature folder name.")
@click.option(
    "--feature-stride",
    "feature_stride",
    type=click.IntRange(min=1),
    default=None,
    help="Frames between two feature rows; needed for a feature folder not among the known Ego4D sets.",
)
@click.option(
    "--feature-window",
    "feature_window",
    type=click.IntRange(min=1),
    default=None,
    help="Frames each feature row sees (default: the stride); with --feature-stride.",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last finished epoch.")
@skip_missing_option
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="TASK=N",
    help="Train TASK on only N samples (seeded choice); repeatable.",
)
@tensorboard_option
@json_option
@quiet_option
@handle_errors
def train_cmd(
    data: str,
    tasks: str,
    out: str,
    epochs: int,
    seed: int,
    device: str,
    model: str,
    engine: str,
    hidden: int,
    layers: int,
    feat_dim: int,
    lr: float,
    batch_size: int,
    preset: str,
    node_input: str,
    weight_decay: float,
    standardize: bool,
    select_metric: str,
    features: str,
    feature_stride: int | None,
    feature_window: int | None,
    resume: bool,
    skip_missing: bool,
    limits: tuple[str, ...],
    tensorboard: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Train a multi-task model (average of the task losses, Adam) and write a RUN folder.

    One task gives a single-task model; --model mlp is the paper's MLP baseline. The defaults
    (lr 1e-3, 10 epochs, batch 16) suit the synthetic data; --preset paper is the paper's recipe
    (several tasks: the longest epochs and largest lr among them, e.g. ar,lta,pnr: 40 epochs,
    lr 1e-4). The same --seed gives the same metrics on CPU.

    \b
    Examples:
      backpack train --data data/ --tasks ar,lta,pnr --out runs/mtl
      backpack train --data data/ --tasks oscc --out runs/oscc --epochs 5 --model mlp
      backpack train --data data/ --tasks ar,lta,pnr --out runs/mtl --epochs 20 --resume
      backpack train --data data/ --tasks ar,lta,pnr --out runs/mtl --nproc 2   # torchrun, 2 processes
      backpack train --data ~/ego4d --tasks oscc --out runs/oscc   # an Ego4D CLI download (v1/ or v2/)
      backpack train --data data/ --tasks ar --features my_feats --feature-stride 8 --out runs/ar
      backpack train --data ~/ego4d/v1 --tasks ar,lta,pnr --out runs/mtl --preset paper
      backpack train --data data/ --tasks ar --out runs/ar --node-input sample --no-standardize
    """
    from backpack.tasks.registry import parse_tasks

    limit = _parse_limits(limits)
    on_epoch, close_log = epoch_logger(tensorboard)  # a missing tensorboard package fails here
    chosen = apply_preset(preset, parse_tasks(tasks), dict(epochs=epochs, lr=lr, batch_size=batch_size))
    epochs, lr, batch_size = chosen["epochs"], chosen["lr"], chosen["batch_size"]
    _show_warnings()
    from backpack.pipeline.train import train_run

    try:
        run = train_run(
            data,
            tasks,
            out,
            features=features,
            feature_stride=feature_stride,
            feature_window=feature_window,
            device=device,
            resume=resume,
            skip_missing=skip_missing,
            limit=limit,
            epochs=epochs,
            seed=seed,
            model=model,
            engine=engine,
            hidden=hidden,
            layers=layers,
            feat_dim=feat_dim,
            lr=lr,
            batch_size=batch_size,
            node_input=node_input,
            weight_decay=weight_decay,
            standardize=standardize,
            select_metric=select_metric,
            progress=not (as_json or quiet),
            on_epoch=on_epoch,
        )
    except KeyboardInterrupt:
        interrupted(saved_epoch(out, epochs))
        return
    finally:
        close_log()
    from backpack.distributed import is_main_process

    if not is_main_process():  # under torchrun only rank 0 reports
        return
    report_run(run.dir, run.metrics_history, as_json)
