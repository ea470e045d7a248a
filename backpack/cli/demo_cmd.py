"""``backpack demo``: the whole EgoPack story on synthetic data.

Only click and the standard library at import time.
"""

from __future__ import annotations

import click

from backpack.cli._common import (
    echo_json,
    handle_errors,
    json_option,
    log,
    quiet_option,
)


@click.command("demo")
@click.option(
    "--out",
    default="./backpack-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the data, runs and store (cached between runs).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the data and of every run.")
@click.option(
    "--novel",
    default="oscc",
    show_default=True,
    type=click.Choice(["ar", "lta", "oscc", "pnr"]),
    help="The novel task; the multi-task model learns the other three.",
)
@click.option(
    "--few-labels",
    "few_labels",
    default=None,
    type=click.IntRange(min=1),
    help="Labelled samples of the novel task (default: the demo's).",
)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:i].")
@json_option
@quiet_option
@handle_errors
def demo_cmd(
    out: str, seed: int, novel: str, few_labels: int | None, device: str, as_json: bool, quiet: bool
) -> None:
    """Train single-task, multi-task, build the backpack, learn a novel task with EgoPack and MTL+FT.

    Prints a table like the paper's Table 1, then the `inspect` summary of the store. A second
    run reuses what the first one trained (delete --out to start again): each step's line says
    "reused ... (cached)" or "running" (--quiet: no step lines and no progress; --json records
    each step's "cached").

    \b
    Examples:
      backpack demo
      backpack demo --novel ar --seed 1 --out /tmp/demo
      backpack demo --json > results.json
    """
    import dataclasses

    from backpack.pipeline.demo import DemoConfig, format_table, run_demo
    from backpack.pipeline.report import format_summary

    config = DemoConfig(novel=novel, seed=seed)
    if few_labels is not None:
        config = dataclasses.replace(config, few_labels=few_labels)
    result = run_demo(
        out, config, device=device, progress=not (as_json or quiet), log=(lambda _: None) if quiet else log
    )
    if as_json:
        echo_json(result)
        return
    click.echo(format_table(result["table"], novel))
    click.echo("")
    click.echo(format_summary(result["store"]))
