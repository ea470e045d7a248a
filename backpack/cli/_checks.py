"""Cheap checks of CLI inputs, run before torch is imported or any data is loaded.

A wrong path, store reference, tag or ``--k`` must fail in a second, not after a forward pass.
Only the standard library, click and the store (numpy, zarr) are used here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from backpack.cli._common import EXIT_USAGE, fail

TASKS = ("ar", "lta", "oscc", "pnr")
SPLITS = ("train", "val", "test")


def is_remote(url: str) -> bool:
    """Whether ``url`` names a remote store (``s3://...``)."""
    return "://" in url


def check_run_dir(run_dir: str, flag: str, kind: str = "train") -> None:
    """``run_dir`` is a run folder of ``backpack train`` (kind "train") or of ``backpack learn`` ("learn")."""
    from backpack.pipeline.runs import run_kind  # torch-free

    path = Path(run_dir)
    if not (path / "config.json").is_file():
        fail(
            f"Invalid value for '{flag}': {run_dir!r} is not a run folder (it has no 'config.json').",
            EXIT_USAGE,
        )
    learner = run_kind(path) == "learn"
    if kind == "train" and learner:
        fail(
            f"Invalid value for '{flag}': {run_dir!r} is a run of `backpack learn`. "
            f"Expected a run of `backpack train` (the multi-task model). Got a novel-task run.",
            EXIT_USAGE,
        )
    if kind == "learn" and not learner:
        fail(
            f"Invalid value for '{flag}': {run_dir!r} is a multi-task run of `backpack train`. "
            "Expected a run of `backpack learn` (it has no 'learner.json').",
            EXIT_USAGE,
        )


def check_store_target(store: str) -> None:
    """A local ``--store`` to publish to is a folder (existing or not), not a file."""
    if is_remote(store):
        return
    if os.path.isfile(store):
        fail(
            f"Invalid value for '--store': {store!r} is a file. "
            "Expected a store folder (an existing store, or a new folder to create).",
            EXIT_USAGE,
        )


def open_store_ref(store: str, storage_options: dict[str, Any] | None) -> Any:
    """Open ``STORE[@V]`` read-only (no torch); a missing store, version or tag exits 2 here."""
    from backpack.errors import BackpackError
    from backpack.pipeline.learner_runs import open_store

    try:
        return open_store(store, storage_options)
    except BackpackError as exc:
        from backpack.cli._common import cli_words

        fail(cli_words(str(exc)), EXIT_USAGE)


def check_k(bp: Any, k: int, novel: str, replace: bool) -> None:
    """``--k`` is at most the prototype count of every store task the learner will read."""
    names = [t for t in bp.task_names if t != novel or not replace]
    counts = {t: bp.task(t).count for t in names}
    if counts and k > min(counts.values()):
        small = min(counts, key=counts.__getitem__)
        fail(
            f"Invalid value for '--k'. The store task {small!r} has {counts[small]} prototypes, fewer "
            f"than k = {k} (store {bp.url!r} version {bp.version}). Use --k {counts[small]} or less.",
            EXIT_USAGE,
        )


def recorded_store_missing(url: str) -> bool:
    """Whether a store URL recorded in a run is a local path that no longer exists."""
    return bool(url) and not is_remote(url) and not os.path.exists(url)


def task_choice() -> click.Choice:
    """The task names as a click choice (a typo lists the valid names, exit 2)."""
    return click.Choice(TASKS)


def split_choice() -> click.Choice:
    """The annotation splits as a click choice."""
    return click.Choice(SPLITS)


__all__ = [
    "SPLITS",
    "TASKS",
    "check_k",
    "check_run_dir",
    "check_store_target",
    "open_store_ref",
    "recorded_store_missing",
    "split_choice",
    "task_choice",
]
