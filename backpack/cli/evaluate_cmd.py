"""``backpack evaluate``: a thin command over :mod:`backpack.pipeline.evaluate` and the learner's.

Only click and the standard library at module level; torch comes in when the command runs.
"""

from __future__ import annotations

import click

from backpack.cli import _checks
from backpack.cli._common import (
    data_option,
    device_option,
    echo_json,
    format_metric,
    graph_engine_option,
    handle_errors,
    json_option,
    json_safe,
    skip_missing_option,
)
from backpack.cli._store_args import parse_storage_options, storage_option_flag
from backpack.cli.train_cmds import _show_warnings


@click.command("evaluate")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False))
@data_option(exists=False)
@click.option(
    "--split",
    default="val",
    show_default=True,
    type=_checks.split_choice(),
    help="Annotation split to evaluate.",
)
@device_option
@graph_engine_option
@skip_missing_option
@click.option(
    "--store",
    "store",
    default=None,
    metavar="STORE[@V]",
    help="For a `backpack learn` run: evaluate against this store (version) instead of the one it "
    "was trained with (refused without this flag when the recorded one changed).",
)
@click.option(
    "--select",
    default="last",
    show_default=True,
    type=click.Choice(["last", "best"]),
    help="Weights of the last epoch, or of the best epoch by the run's selection metric (chosen on "
    "val: reporting val with it flatters the numbers).",
)
@click.option(
    "--probe",
    is_flag=True,
    help="Also show the linear-probe floor (AR, OSCC) on the same data and split.",
)
@storage_option_flag
@json_option
@handle_errors
def evaluate_cmd(
    run_dir: str,
    data: str,
    split: str,
    device: str,
    engine: str,
    skip_missing: bool,
    store: str | None,
    select: str,
    probe: bool,
    storage_option: tuple[str, ...],
    as_json: bool,
) -> None:
    """Evaluate a trained RUN on a split: AR top-1, OSCC accuracy, LTA edit distance, PNR error (s).

    \b
    Examples:
      backpack evaluate runs/mtl --data data/
      backpack evaluate runs/mtl --data data/ --split val --json
      backpack evaluate runs/ar --data data/ --select best --probe   # best epoch, beside the floor
      backpack evaluate runs/oscc --data data/ --store store/@2   # a learn run, another store version
      backpack evaluate runs/oscc --data data/ \\
          --storage-option endpoint_url=http://127.0.0.1:9000   # its s3 store
    """
    storage_options = parse_storage_options(storage_option)
    _show_warnings()
    from backpack.pipeline.evaluate import evaluate_run
    from backpack.pipeline.runs import run_kind

    raw = evaluate_run(
        run_dir,
        data,
        split=split,
        device=device,
        skip_missing=skip_missing,
        engine=engine,
        select=select,
        store=store,
        storage_options=storage_options,
    )
    if probe:
        from backpack.pipeline.linear_probe import PROBE_TASKS, linear_probe

        names = [t for t in raw if t in PROBE_TASKS]
        if names:
            raw = {**raw, "linear_probe": linear_probe(data, names, split=split, skip_missing=skip_missing)}
    metrics = json_safe(raw)
    if as_json:
        echo_json(metrics)
        return
    from backpack.pipeline.figures import UNITS

    if run_kind(run_dir) == "learn":
        click.echo(_evaluated_against(run_dir, store, storage_options))
    for task, values in metrics.items():
        unit = UNITS.get(task)
        shown = ", ".join(format_metric(k, v) for k, v in values.items())
        click.echo(f"{task}{f' ({unit})' if unit else ''}: {shown}")


def _evaluated_against(run_dir: str, store: str | None, storage_options: dict | None) -> str:
    """``store /path version 3``: the store a learn run was evaluated against."""
    from backpack.pipeline.learner_runs import open_store, read_learn_config
    from backpack.store.ref import split_ref

    cfg = read_learn_config(run_dir)
    if not cfg.uses_backpack and store is None:
        return "store -  (learned without a backpack)"
    if store is None:
        return f"store {cfg.store_url} version {cfg.store_version} (the one it was trained with)"
    return f"store {split_ref(store)[0]} version {open_store(store, storage_options).version} (--store)"
