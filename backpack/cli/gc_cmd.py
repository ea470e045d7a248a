"""``backpack gc``: list (default) or remove unreferenced data of a store."""

from __future__ import annotations

import click

from backpack.cli._common import echo_json, json_option
from backpack.cli._store_args import common_options, open_store


@click.command("gc")
@click.argument("store")
@click.option("--yes", "yes", is_flag=True, help="Really delete (default: only list what would go).")
@click.option(
    "--grace",
    "grace_s",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Keep orphans younger than this many seconds (a writer may still be filling them).",
)
@json_option
@common_options
def gc_cmd(store: str, yes: bool, grace_s: float, as_json: bool, storage_option: tuple[str, ...]) -> None:
    """Remove data no version refers to (left by killed writers); a dry run unless --yes.

    Never touches data a manifest refers to, nor anything younger than --grace (a writer in
    progress). Refuses to run when a manifest cannot be read.

    \b
    Examples:
      backpack gc store/                 # what would be removed
      backpack gc store/ --yes           # remove it
      backpack gc store/ --yes --grace 0 --json
    """
    from backpack.store.gc import collect_garbage, find_orphans

    with open_store(store, None, storage_option, mode="a" if yes else "r") as bp:
        every = find_orphans(bp)
        chosen = collect_garbage(bp, grace_s=grace_s, dry_run=not yes)
    kept = [o for o in every if o not in chosen]
    result = {
        "store": bp.url,
        "dry_run": not yes,
        "removed" if yes else "would_remove": [o.to_dict() for o in chosen],
        "kept_young": [o.to_dict() for o in kept],
        "bytes": sum(o.bytes for o in chosen),
    }
    if as_json:
        echo_json(result)
        return
    verb = "removed" if yes else "would remove"
    for o in chosen:
        click.echo(f"{verb} {o.key} ({o.kind}, {o.bytes} bytes)")
    for o in kept:
        click.echo(f"kept {o.key} (younger than {grace_s:g} s: a writer may be filling it)")
    click.echo(
        f"{verb} {len(chosen)} orphan(s), {result['bytes']} bytes" + ("" if yes else "; pass --yes to delete")
    )
