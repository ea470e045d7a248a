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
    fail,
    handle_errors,
    interrupted,
    log,
    quiet_option,
    report_run,
)
from backpack.cli._nproc import nproc_option


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


@click.command("train")
@nproc_option
@click.option(
    "--data", "data", required=True, type=click.Path(file_okay=False), help="Data root (Ego4D layout)."
)
@click.option(
    "--tasks",
    required=True,
    callback=_check_tasks,
    help="Comma-separated tasks: ar, lta, oscc, pnr (one = single-task).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="RUN folder to write.")
@click.option(
    "--epochs",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Passes over the training data.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds sampling, init and dropout.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:i].")
@click.option(
    "--model",
    "model",
    default="graph",
    show_default=True,
    type=click.Choice(["graph", "mlp"]),
    help="graph: the temporal GNN backbone; mlp: the paper's MLP baseline.",
)
@click.option(
    "--graph-engine",
    "engine",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "dgl", "native"]),
)
@click.option(
    "--hidden",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Width of the backbone's nodes.",
)
@click.option("--layers", default=2, show_default=True, type=click.IntRange(min=1), help="Backbone layers.")
@click.option(
    "--feat-dim",
    "feat_dim",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Width of the task features f^k.",
)
@click.option(
    "--lr",
    default=1e-3,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Adam learning rate.",
)
@click.option("--batch-size", "batch_size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--features", default="omnivore_video_swinl", show_default=True, help="Feature folder name.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last finished epoch.")
@click.option(
    "--skip-missing", "skip_missing", is_flag=True, help="Drop clips whose video has no feature file."
)
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="TASK=N",
    help="Train TASK on only N samples (seeded choice); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the final metrics as JSON on stdout.")
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
    features: str,
    resume: bool,
    skip_missing: bool,
    limits: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Train a multi-task model (average of the task losses, Adam) and write a RUN folder.

    One task gives a single-task model; --model mlp is the paper's MLP baseline. The defaults
    (lr 1e-3, 10 epochs) suit the synthetic data; the paper trains Ego4D with lr 1e-4 (AR/LTA)
    for 30-40 epochs. The same --seed gives the same metrics on CPU.

    \b
    Examples:
      backpack train --data data/ --tasks ar,lta,pnr --out runs/mtl
      backpack train --data data/ --tasks oscc --out runs/oscc --epochs 5 --model mlp
      backpack train --data data/ --tasks ar,lta,pnr --out runs/mtl --epochs 20 --resume
      backpack train --data data/ --tasks ar,lta,pnr --out runs/mtl --nproc 2   # torchrun, 2 processes
    """
    limit = _parse_limits(limits)
    _show_warnings()
    from backpack.pipeline.train import train_run

    try:
        run = train_run(
            data,
            tasks,
            out,
            features=features,
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
            progress=not (as_json or quiet),
        )
    except KeyboardInterrupt:
        interrupted(f"Every finished epoch is saved in {out}.")
        return
    from backpack.distributed import is_main_process

    if not is_main_process():  # under torchrun only rank 0 reports
        return
    report_run(run.dir, run.metrics_history, as_json)
