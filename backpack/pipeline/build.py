"""Build the backpack: per-(verb, noun) means of every head's features on the AR train clips.

Paper section 3.3, "Building the backpack": the AR train clips go through the temporal backbone
and each task head; the features are averaged per (verb, noun) pair, one prototype set per task,
published as one store version with provenance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from backpack._io import sha256_file
from backpack.errors import ConfigError, NotFoundError, StoreError
from backpack.models.accumulator import PrototypeAccumulator

FeatureFn = Callable[[Any], tuple[Tensor, dict[str, Tensor]]]


def heads_on_ar(model: Any, tasks: list[str] | None = None) -> FeatureFn:
    """A function batch -> (AR units, {task: head.mlp(units)}) for the heads ``tasks`` of ``model``."""
    from backpack.tasks.registry import get_task

    ar = get_task("ar")
    names = list(model.heads) if tasks is None else tasks

    def fn(batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        units = ar.units(batch, model.backbone(batch))
        return units, {t: model.heads[t].mlp(units) for t in names}

    return fn


class _ClipSubset:
    """The dataset, seen through a subset of its AR train clips (everything else delegated)."""

    def __init__(self, ds: Any, clips: list[Any]) -> None:
        self._ds, self._clips = ds, clips

    def action_clips(self, split: str) -> list[Any]:
        return self._clips

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ds, name)


def clip_chunks(clips: list[Any], per_chunk: int) -> list[list[Any]]:
    """Split ``clips`` into runs of about ``per_chunk`` actions without cutting a video clip in two."""
    chunks: list[list[Any]] = [[]]
    for i, c in enumerate(clips):
        if len(chunks[-1]) >= per_chunk and c.clip_uid != clips[i - 1].clip_uid:
            chunks.append([])
        chunks[-1].append(c)
    return [c for c in chunks if c]


@torch.no_grad()
def accumulate(
    ds: Any,
    model: torch.nn.Module,
    features: FeatureFn,
    dims: dict[str, int],
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: bool = True,
    chunk_actions: int = 2048,
) -> PrototypeAccumulator:
    """Stream the AR train clips (centred sub-segments) through ``features`` into an accumulator.

    Memory: the accumulator holds [P, D_k] float64 per task whatever the number of clips, and
    the AR graphs are built ``chunk_actions`` actions at a time (never all at once, never cached).
    """
    from backpack.backbone.graph import GraphBatch
    from backpack.distributed import all_reduce_sums, is_main_process, shard, world_size
    from backpack.progress import Progress
    from backpack.tasks._clips import node_input_of
    from backpack.tasks.registry import get_task

    ar = get_task("ar")
    clips = ds.action_clips("train")
    acc = PrototypeAccumulator(((c.verb, c.noun) for c in clips), dims)
    was_training = model.training
    model.eval()
    # under torch.distributed each rank forwards its own chunks (at least one chunk per rank)
    per_chunk = min(chunk_actions, -(-len(clips) // world_size()))
    mine = shard(clip_chunks(clips, per_chunk))
    # rank 0 reports its own share (the ranks' shares are the same size to one chunk); the bar
    # moves per forwarded batch, the slow part, not per chunk (one chunk is often all the clips)
    bar = Progress(
        sum(len(c) for c in mine), "build", unit="clips", enabled=progress and is_main_process(), leave=False
    )
    try:
        for chunk in mine:
            # centred sampling (train=False): deterministic, and every action is a unit exactly once
            samples = ar.build(
                _ClipSubset(ds, chunk), "train", False, np.random.default_rng(0), node_input_of(model)
            )
            done = 0
            for lo in range(0, len(samples), batch_size):
                batch = GraphBatch.collate(samples[lo : lo + batch_size]).to(device)
                _, feats = features(batch)
                tgt = ar.targets(batch)
                acc.update(torch.stack([tgt["verb"], tgt["noun"]], dim=1), feats)
                step = min(int(tgt["verb"].numel()), len(chunk) - done)
                bar.update(step)
                done += step
            bar.update(len(chunk) - done)  # actions the graphs dropped still count as seen
    finally:
        bar.close()
        model.train(was_training)
    all_reduce_sums(acc.sums, acc.counts)  # every rank's chunks summed (no-op in one process)
    return acc


def open_or_create_store(url: str, taxonomy: Any, storage_options: dict[str, Any] | None = None) -> Any:
    """Open ``url`` for writing, or create it with the vocabulary of ``taxonomy``.

    A store with another vocabulary is refused: its (verb, noun) keys would mean other actions.
    ``storage_options`` (s3: endpoint_url, key, secret, ...) only open the store: never recorded.
    """
    from backpack.store import Backpack

    verbs, nouns = tuple(taxonomy.verbs), tuple(taxonomy.nouns)
    try:
        bp = Backpack.open(url, mode="a", storage_options=storage_options)
    except NotFoundError:
        return Backpack.create(url, verbs=list(verbs), nouns=list(nouns), storage_options=storage_options)
    for field, ours, theirs in (("verbs", verbs, tuple(bp.verbs)), ("nouns", nouns, tuple(bp.nouns))):
        if ours != theirs:
            first = next(
                (i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs))
            )
            raise StoreError(
                f"Invalid vocabulary {field!r} in store {url!r}: it differs from the run's taxonomy. "
                f"Expected {len(ours)} {field} (first difference at index {first}). Got {len(theirs)} "
                f"{field}. "
                f"Use another store, or a run trained on this store's vocabulary."
            )
    return bp


def build_prototypes(
    run: Any,
    ds: Any,
    store_url: str,
    tag: str | None = None,
    message: str | None = None,
    add_task: str | None = None,
    *,
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = True,
    chunk_actions: int = 2048,
    storage_options: dict[str, Any] | None = None,
    allow_empty: bool = True,
) -> int:
    """Forward the AR train clips through ``run`` and publish its prototypes as a new store version.

    Parameters
    ----------
    run : Run
        A multi-task run (``load_run``), or with ``add_task`` a run of ``backpack learn``.
    ds : Ego4DDataset
        The data the run was trained on (the AR train split is used).
    store_url : str
        The store; created with the run's vocabulary if missing.
    tag, message : str, optional
        Tag the new version; its log message.
    add_task : str, optional
        Publish only the novel task's prototypes (from the learner run's new head) on top of the
        store version the learner run used, keeping the other tasks as they are.
    storage_options : dict, optional
        Backend options of the store (s3: endpoint_url, key, secret, ...). Used to open it only:
        they are not part of the provenance (they may hold credentials).
    allow_empty : bool
        False: when every prototype, key and support count equals the parent version's, publish
        nothing (``tag`` then names the parent) and return the parent's number.

    Returns
    -------
    int
        The published version number (the parent's when nothing was published).
    """
    from backpack import __version__

    learner = run.kind == "learn"
    if add_task is not None and not learner:
        raise ConfigError(
            f"Invalid value for '--add-task' with run {str(run.dir)!r}: it is a multi-task run. "
            f"Expected a run of `backpack learn --task {add_task}`. Got a run of tasks "
            f"{list(run.model.heads)}."
        )
    if learner and add_task is None:
        raise ConfigError(
            f"The run {str(run.dir)!r} is a novel-task run ({run.model.novel!r}). "
            f"Use --add-task {run.model.novel} to add its prototypes, or build from a multi-task run."
        )
    model = run.model.to(device)
    if learner:
        if add_task != model.novel:
            raise ConfigError(
                f"Invalid value for '--add-task' with run {str(run.dir)!r}. Expected {model.novel!r} "
                f"(the task it learned). Got {add_task!r}."
            )
        dims = {add_task: int(model.head.feat_dim)}
        fn: FeatureFn = lambda b: (None, {add_task: model.features_for_prototypes(b)[1]})  # noqa: E731
        parent = run.config.store_version  # on top of the version the task was learned with
    else:
        dims = {t: int(h.feat_dim) for t, h in model.heads.items()}
        fn, parent = heads_on_ar(model), None
    acc = accumulate(
        ds,
        model,
        fn,
        dims,
        batch_size=batch_size,
        device=device,
        progress=progress,
        chunk_actions=chunk_actions,
    )
    keys, protos, support = acc.finalize()
    from backpack.distributed import broadcast_object, is_main_process

    if not is_main_process():  # only rank 0 publishes; the others learn the version number
        return int(broadcast_object(None))
    bp = open_or_create_store(store_url, run.taxonomy, storage_options)
    provenance = {
        "checkpoint_sha256": sha256_file(Path(run.dir) / "weights.safetensors"),
        "dataset_fingerprint": ds.fingerprint(),
        "feature_extractor": ds.features_name,
        "backpack_version": __version__,
        "extra": {
            "run": str(Path(run.dir).name),
            "clips": int(acc.counts.sum()),
            "added_task": add_task or "",
            # frames per feature row the prototypes' clips were read with (window, stride, fps)
            "feature_time": ds.feature_time.to_dict() if hasattr(ds, "feature_time") else {},
        },
    }
    default = f"add {add_task} from {Path(run.dir).name}" if add_task else f"build from {Path(run.dir).name}"
    same = None if allow_empty else _same_as(bp, parent, protos, keys, support, storage_options)
    if same is not None:
        if tag:
            bp.tag(tag, same)
        return int(broadcast_object(same))

    def write(v: Any) -> None:
        for task, p in protos.items():
            v.add_task(task, p, keys, support)

    if parent is None:  # on top of the latest: a rival's version is re-read and built on, never lost
        version = bp.update(write, message=message or default, provenance=provenance)
    else:  # an explicit parent that is no longer the latest is a conflict (StaleParentError)
        with bp.new_version(message=message or default, provenance=provenance, parent=parent) as v:
            write(v)
        version = v.version
    if tag:
        bp.tag(tag, version)
    return int(broadcast_object(int(version)))


def _same_as(
    bp: Any,
    parent: int | None,
    protos: dict[str, Any],
    keys: Any,
    support: Any,
    storage_options: dict[str, Any] | None,
) -> int | None:
    """The version the new one would copy (``parent``, default the latest) if nothing differs, else None."""
    from backpack.store import Backpack

    versions = bp.versions()
    if not versions:
        return None
    base = versions[-1] if parent is None else int(parent)
    old = Backpack.open(bp.url, version=base, storage_options=storage_options)
    for task, p in protos.items():
        if task not in old.task_names:
            return None
        view = old.task(task)
        stored = np.asarray(view.prototypes)
        if not (
            np.array_equal(np.asarray(view.keys), np.asarray(keys))
            and np.array_equal(np.asarray(view.support), np.asarray(support))
            and np.array_equal(stored, np.asarray(p, dtype=stored.dtype))
        ):
            return None
    return base


__all__ = ["accumulate", "build_prototypes", "heads_on_ar", "open_or_create_store"]
