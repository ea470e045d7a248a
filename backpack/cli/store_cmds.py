"""Store commands: inspect, log, tag, verify, diff, export, import, query.

Thin wrappers over :mod:`backpack.store`. Only click and the standard library at top level:
``backpack inspect`` must never import torch or DGL, and ``backpack --help`` imports this module.
A STORE argument may end in ``@V`` (a version number or tag) as a shorthand for ``--version V``.
"""

from __future__ import annotations

from typing import Any

import click

from backpack.cli._common import (
    EXIT_FAILED_CHECK,
    EXIT_USAGE,
    echo_json,
    fail,
    figure_options,
    json_option,
    json_safe,
    log,
)
from backpack.cli._store_args import common_options as _common
from backpack.cli._store_args import open_store as _open
from backpack.cli._store_args import parse_storage_options, parse_store_ref
from backpack.cli._store_args import version_arg as _version_arg


@click.command("inspect")
@click.argument("store")
@click.option("--version", "version", metavar="V", help="Version number or tag (default: latest).")
@click.option(
    "--plot", "plot_dir", type=click.Path(file_okay=False), help="Write a similarity-map PNG per task here."
)
@figure_options
@json_option
@_common
def inspect_cmd(
    store: str,
    version: str | None,
    plot_dir: str | None,
    fmt: str,
    dpi: int,
    as_json: bool,
    storage_option: tuple[str, ...],
) -> None:
    """Show a store: versions, tags, tasks, dims, counts, coverage, support, cosine spread, sizes, indexes.

    A task whose prototypes' median pairwise cosine exceeds 0.95 is reported as collapsed.

    \b
    Examples:
      backpack inspect store/
      backpack inspect store/@v1 --json
      backpack inspect s3://bucket/store --storage-option endpoint_url=http://127.0.0.1:9000
      backpack inspect store/ --plot maps/      # maps/<task>.png (needs matplotlib)
      backpack inspect store/ --plot maps/ --format pdf
    """
    from backpack.pipeline.report import format_summary, plot_similarity_maps, store_summary

    with _open(store, version, storage_option) as bp:
        summary = store_summary(bp)
        if plot_dir is not None:
            summary["plots"] = [str(p) for p in plot_similarity_maps(bp, plot_dir, fmt, dpi)]
    if as_json:
        echo_json(json_safe(summary))  # a NaN in a manifest prints as null: always valid JSON
        return
    click.echo(format_summary(summary))
    for path in summary.get("plots", []):
        log(f"wrote {path}")


@click.command("log")
@click.argument("store")
@json_option
@_common
def log_cmd(store: str, as_json: bool, storage_option: tuple[str, ...]) -> None:
    """List the versions of a store, newest first, with their messages, tasks and tags.

    \b
    Examples:
      backpack log store/
      backpack log store/ --json
    """
    with _open(store, None, storage_option) as bp:
        tags_of: dict[int, list[str]] = {}
        for name, number in sorted(bp.tags().items()):
            tags_of.setdefault(number, []).append(name)
        entries = []
        for number in reversed(bp.versions()):
            m = bp.manifest_of(number)
            entries.append(
                {
                    "version": number,
                    "parent": m.parent,
                    "created_at": m.created_at,
                    "message": m.message,
                    "tasks": {n: t.count for n, t in m.tasks.items()},
                    "tags": tags_of.get(number, []),
                }
            )
    if as_json:
        echo_json({"store": bp.url, "versions": entries})
        return
    if not entries:
        click.echo("(no versions yet)")
    for e in entries:  # a hostile store must not forge lines or escapes in the terminal
        tags = f" ({', '.join(e['tags'])})" if e["tags"] else ""
        tasks = _printable(", ".join(f"{n}:{c}" for n, c in e["tasks"].items()))
        parent = "-" if e["parent"] is None else e["parent"]
        click.echo(f"version {e['version']}{tags}  {_printable(e['created_at'])}  parent {parent}")
        click.echo(f"    {_printable(e['message']) or '(no message)'}\n    tasks {tasks}")


def _printable(text: str) -> str:
    """``text`` with control and other non-printable characters escaped (``\\n``, ``\\x1b``)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


@click.command("tag")
@click.argument("store")
@click.argument("name")
@click.argument("version", required=False)
@click.option("--force", is_flag=True, help="Move the tag if it already names another version.")
@click.option("--delete", "delete", is_flag=True, help="Delete the tag (the version stays).")
@json_option
@_common
def tag_cmd(
    store: str,
    name: str,
    version: str | None,
    force: bool,
    delete: bool,
    as_json: bool,
    storage_option: tuple[str, ...],
) -> None:
    """Name a version (default: latest), move a tag with --force, or delete it with --delete.

    \b
    Examples:
      backpack tag store/ stable            # stable -> latest
      backpack tag store/ stable 3 --force  # move it to version 3
      backpack tag store/ stable --delete
    """
    path, ref = parse_store_ref(store, version)
    if delete and (ref is not None or force):
        fail("--delete takes no VERSION and no --force.", EXIT_USAGE)
    from backpack.errors import ConflictError
    from backpack.store import Backpack

    with Backpack.open(path, mode="a", storage_options=parse_storage_options(storage_option)) as bp:
        if delete:
            bp.delete_tag(name)
            result: dict[str, Any] = {"tag": name, "deleted": True}
        else:
            target = _version_arg(ref) or "latest"
            try:
                result = {"tag": name, "version": bp.tag(name, target, force=force)}
            except ConflictError:
                fail(
                    f"Tag {name!r} already names version {bp.tags()[name]} in store {bp.url!r}; "
                    f"pass --force to move it to {bp.resolve(target)}.",
                    EXIT_USAGE,
                )
    if as_json:
        echo_json(result)
    else:
        click.echo(f"deleted tag {name}" if delete else f"{name} -> version {result['version']}")


@click.command("verify")
@click.argument("store")
@click.option("--version", "version", metavar="V", help="Check only this version (default: all).")
@json_option
@_common
def verify_cmd(store: str, version: str | None, as_json: bool, storage_option: tuple[str, ...]) -> None:
    """Check every checksum, index and tag; exit 1 naming each mismatch.

    \b
    Examples:
      backpack verify store/
      backpack verify store/@3 --json
    """
    path, ref = parse_store_ref(store, version)
    with _open(path, None, storage_option) as bp:
        numbers = bp.versions() if ref is None else [bp.resolve(_version_arg(ref))]
        problems = bp.verify(None if ref is None else numbers)  # None: also the chain of numbers
        orphans = [o.to_dict() for o in bp.orphans()] if ref is None and not problems else []
    if as_json:
        echo_json(
            {
                "store": bp.url,
                "versions": numbers,
                "ok": not problems,
                "problems": problems,
                "orphans": orphans,
            }
        )
    else:
        for p in problems:
            click.echo(f"FAILED {p}")
        for o in orphans:  # unreferenced, never read: not damage (remove with `backpack gc --yes`)
            click.echo(f"orphan {o['key']} ({o['kind']}, {o['bytes']} bytes)")
        click.echo(
            f"{'ok' if not problems else f'{len(problems)} problem(s)'}: checked {len(numbers)} version(s)"
        )
    if problems:
        raise SystemExit(EXIT_FAILED_CHECK)


@click.command("diff")
@click.argument("store")
@click.argument("a")
@click.argument("b")
@json_option
@_common
def diff_cmd(store: str, a: str, b: str, as_json: bool, storage_option: tuple[str, ...]) -> None:
    """Compare versions A and B: tasks added/removed/changed, counts, mean cosine drift.

    \b
    Examples:
      backpack diff store/ 1 2
      backpack diff store/ stable latest --json
    """
    from backpack.store import diff

    with _open(store, a, storage_option) as bp:
        d = diff(bp, bp.at(_version_arg(b)))
    if as_json:
        echo_json(d.to_dict())
        return
    click.echo(f"version {d.version_a} -> {d.version_b}")
    for name in d.added:
        click.echo(f"+ {name}")
    for name in d.removed:
        click.echo(f"- {name}")
    for t in d.changed:
        drift = "n/a" if t.mean_drift is None else f"{t.mean_drift:.4f}"
        click.echo(
            f"~ {t.name}: count {t.count_a} -> {t.count_b} ({t.count_change:+d}), keys +{t.keys_added} "
            f"-{t.keys_removed}, mean drift {drift}"
        )
    if d.unchanged:
        click.echo(f"= {', '.join(d.unchanged)} (unchanged)")
    if d.is_empty:
        click.echo("(no changes)")


@click.command("export")
@click.argument("store")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--version", "versions", multiple=True, metavar="V", help="Only this version (repeatable; default: all)."
)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@json_option
@_common
def export_cmd(
    store: str,
    out: str,
    versions: tuple[str, ...],
    overwrite: bool,
    as_json: bool,
    storage_option: tuple[str, ...],
) -> None:
    """Write a store (or some versions) to one verified zip bundle.

    \b
    Examples:
      backpack export store/ team-b.zip
      backpack export store/ v3.zip --version 3
    """
    from backpack.store import export_bundle

    path, ref = parse_store_ref(store, None)
    wanted = [*([ref] if ref else []), *versions]
    with _open(path, None, storage_option) as bp:
        dest = export_bundle(bp, out, versions=[_version_arg(v) for v in wanted] or None, overwrite=overwrite)
        numbers = sorted({bp.resolve(_version_arg(v)) for v in wanted}) if wanted else bp.versions()
    result = {"bundle": str(dest), "versions": numbers, "bytes": dest.stat().st_size}
    echo_json(result) if as_json else click.echo(
        f"wrote {dest} ({result['bytes']} bytes, versions {numbers})"
    )


@click.command("import")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.argument("dest")
@json_option
@_common
def import_cmd(bundle: str, dest: str, as_json: bool, storage_option: tuple[str, ...]) -> None:
    """Unpack a bundle into a new store at DEST (verified before it appears).

    \b
    Examples:
      backpack import team-b.zip store-b/
      backpack import team-b.zip s3://bucket/store-b
    """
    from backpack.store import import_bundle

    with import_bundle(bundle, dest, storage_options=parse_storage_options(storage_option)) as bp:
        result = {"store": bp.url, "versions": bp.versions(), "tags": bp.tags()}
    echo_json(result) if as_json else click.echo(f"imported {len(result['versions'])} version(s) into {dest}")


@click.command("query")
@click.argument("store")
@click.option("--task", "task", required=True, help="Task name.")
@click.option(
    "--vectors", "vectors", required=True, type=click.Path(dir_okay=False), help=".npy file, [Q, D] or [D]."
)
@click.option("-k", "k", default=4, show_default=True, type=int, help="Neighbours per query.")
@click.option("--version", "version", metavar="V", help="Version number or tag (default: latest).")
@json_option
@_common
def query_cmd(
    store: str,
    task: str,
    vectors: str,
    k: int,
    version: str | None,
    as_json: bool,
    storage_option: tuple[str, ...],
) -> None:
    """The k most cosine-similar prototypes of each query vector.

    \b
    Examples:
      backpack query store/ --task ar --vectors x.npy -k 4
      backpack query store/@stable --task lta --vectors x.npy --json
    """

    from backpack.store._query_file import load_query_vectors

    q = load_query_vectors(vectors)
    if q.ndim == 1:
        q = q[None, :]
    with _open(store, version, storage_option) as bp:
        view = bp.task(task)
        scores, ids = view.search(q, k)
        results = []
        for row_ids, row_scores in zip(ids.tolist(), scores.tolist()):
            # An approximate index pads with id -1 when it finds fewer than k.
            hits = [(i, s) for i, s in zip(row_ids, row_scores) if i >= 0]
            names = view.key_names([i for i, _ in hits]) if hits else []
            results.append(
                [{"id": i, "score": s, "verb": v, "noun": n} for (i, s), (v, n) in zip(hits, names)]
            )
    if as_json:
        echo_json({"store": bp.url, "version": bp.version, "task": task, "k": k, "results": results})
        return
    for qi, hits in enumerate(results):
        click.echo(
            f"query {qi}: "
            + "; ".join(f"{h['verb']}/{h['noun']} ({h['score']:.3f}, id {h['id']})" for h in hits)
        )
