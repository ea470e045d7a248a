"""Data commands: ``backpack synth`` writes a synthetic dataset in the Ego4D v1 layout.

Only click and the standard library at top level (``backpack --help`` imports this module).
"""

from __future__ import annotations

import click

from backpack.cli._common import (
    echo_json,
    handle_errors,
    json_option,
    log,
)


@click.command("synth")
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="New (or empty) folder to write."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed and size: the same bytes.")
@click.option(
    "--size",
    default="small",
    show_default=True,
    type=click.Choice(["small", "medium"]),
    help="small: the demo's minutes-on-2-cores size; medium: about 4x.",
)
@click.option(
    "--world",
    default="clean",
    show_default=True,
    type=click.Choice(["clean", "noisy"]),
    help="clean: the original generator; noisy: noisier, correlated rows, longer actions, imbalanced "
    "classes (docs/synthetic-data.md).",
)
@json_option
@handle_errors
def synth_cmd(out: str, seed: int, size: str, world: str, as_json: bool) -> None:
    """Write a synthetic Ego4D-format dataset with planted cross-task structure.

    Verbs and nouns are latent factors of the features, actions follow a grammar, a clip's state
    change depends on its (verb, noun) and its point of no return is visible in the features.
    See docs/synthetic-data.md.

    \b
    Examples:
      backpack synth --out data/
      backpack synth --out data-medium/ --size medium --seed 1
      backpack synth --out data-noisy/ --world noisy
      backpack synth --out data/ --json      # {"path": ..., "fingerprint": ..., ...}
    """
    import time

    from backpack.data import SIZES, world_config, write_synthetic
    from backpack.data.synthetic_write import describe

    t0 = time.perf_counter()
    path = write_synthetic(out, seed=seed, size=world_config(size, world))
    summary = {"seed": seed, "size": size, "world": world, "feature_dim": SIZES[size].dim, **describe(path)}
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    if as_json:
        echo_json(summary)
        return
    log(f"wrote {path} in {summary['seconds']} s")
    click.echo(
        f"{path}: {summary['videos']} videos, D = {summary['feature_dim']}, "
        f"{summary['verbs']} verbs x {summary['nouns']} nouns, "
        f"actions train/val {summary['actions']['train']}/{summary['actions']['val']}, "
        f"OSCC/PNR clips train/val {summary['state_clips']['train']}/{summary['state_clips']['val']}"
    )
    click.echo(f"fingerprint {summary['fingerprint']}")
