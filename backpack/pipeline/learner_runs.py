"""Learner run folders: what ``backpack learn`` writes and how it is loaded back.

A learner RUN2 folder is a run folder (``config.json`` holds the *base* run's RunConfig, so the
backbone and heads can be rebuilt; ``vocabulary.json``; checkpoint files) plus ``learner.json``
(:class:`LearnConfig`: the novel task, k, depth, and the store URL, version and content hash it
was trained with). ``checkpoint.json``'s extra state says ``{"kind": "egopack"}``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backpack.errors import ConfigError, RunError, StoreError, invalid

LEARNER = "learner.json"
KIND = "egopack"


@dataclass(frozen=True)
class LearnConfig:
    """Settings of a novel-task run (``backpack learn``)."""

    task: str
    k: int = 4
    depth: int = 2
    no_backpack: bool = False
    replace: bool = False
    limit: int | None = None
    epochs: int = 10
    lr: float = 1e-3
    base_lr_scale: float = 1.0  # lr of the pre-trained backbone and heads = lr * base_lr_scale
    batch_size: int = 16
    seed: int = 0
    engine: str = "auto"
    base_run: str = ""
    store_url: str = ""
    store_version: int | None = None
    store_tasks: tuple[str, ...] = ()
    store_content: str = ""
    data_fingerprint: str = ""
    data_files: dict[str, str] = field(default_factory=dict)  # per-file digests behind the fingerprint
    feature_time: dict[str, Any] = field(default_factory=dict)  # frames per feature row (window, stride, fps)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, ok in (
            ("k", isinstance(self.k, int) and self.k >= 0),
            ("depth", isinstance(self.depth, int) and self.depth >= 1),
            ("epochs", isinstance(self.epochs, int) and self.epochs >= 1),
            ("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1),
            ("lr", isinstance(self.lr, (int, float)) and self.lr > 0),
            ("base_lr_scale", isinstance(self.base_lr_scale, (int, float)) and self.base_lr_scale > 0),
            ("limit", self.limit is None or (isinstance(self.limit, int) and self.limit >= 1)),
        ):
            if not ok:
                raise ConfigError(
                    invalid(name, "the learner settings", "a positive value (k >= 0)", getattr(self, name))
                )

    @property
    def uses_backpack(self) -> bool:
        return not self.no_backpack and self.k > 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["store_tasks"] = list(self.store_tasks)
        return {"kind": KIND, **d}

    @classmethod
    def from_dict(cls, d: Any, where: str = LEARNER) -> LearnConfig:
        if not isinstance(d, dict) or d.get("kind") != KIND:
            raise RunError(invalid("kind", where, repr(KIND), d.get("kind") if isinstance(d, dict) else d))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known - {"kind"})
        if unknown:
            raise RunError(invalid("fields", where, f"only {sorted(known)}", unknown))
        body = {k: v for k, v in d.items() if k != "kind"}
        try:
            return cls(**{**body, "store_tasks": tuple(body.get("store_tasks", ()))})
        except (TypeError, ConfigError) as exc:
            raise RunError(f"Invalid learner settings in {where}: {exc}") from None


def is_learner_dir(run_dir: str | os.PathLike[str]) -> bool:
    """Whether ``run_dir`` is a run of ``backpack learn`` (cheap: looks for ``learner.json``)."""
    return (Path(run_dir) / LEARNER).is_file()


def read_learn_config(run_dir: str | os.PathLike[str]) -> LearnConfig:
    from backpack.pipeline.checkpoint import read_json

    path = Path(run_dir) / LEARNER
    raw = read_json(path, f"{str(run_dir)!r} is not a run of `backpack learn`.")
    return LearnConfig.from_dict(raw, repr(str(path)))


def store_content_hash(bp: Any, tasks: list[str]) -> str:
    """sha256 over the stored arrays' checksums of ``tasks``: tells two stores' contents apart."""
    h = hashlib.sha256()
    for name in sorted(tasks):
        entry = bp.manifest.tasks[name]
        h.update(name.encode())
        for arr in sorted(entry.arrays):
            h.update(entry.arrays[arr].sha256.encode())
    return h.hexdigest()


def split_store_ref(store: str) -> tuple[str, int | str | None]:
    """``"path@tag"`` / ``"path@3"`` -> (path, ref); a path that exists as written is literal."""
    if "@" in store and not os.path.exists(store):
        head, _, tail = store.rpartition("@")
        if head and tail and "/" not in tail:
            return head, int(tail) if tail.isdigit() else tail
        if not tail:
            raise ConfigError(f"Invalid value for 'STORE'. Expected PATH or PATH@VERSION. Got {store!r}.")
    return store, None


def open_store(store: str, storage_options: dict[str, Any] | None = None) -> Any:
    """Open ``STORE[@TAG]`` read-only; a missing or empty store is a clear error.

    ``storage_options`` go to the backend (s3: endpoint_url, key, secret, ...); they are used to
    open the store only and never recorded anywhere (they may hold credentials).
    """
    from backpack.store import Backpack

    url, ref = split_store_ref(store)
    bp = Backpack.open(url, version=ref, storage_options=storage_options)
    if bp.version is None:
        raise StoreError(
            f"The store {url!r} has no version yet. Build one with `backpack build RUN --store {url}`."
        )
    return bp


__all__ = [
    "LEARNER",
    "LearnConfig",
    "is_learner_dir",
    "open_store",
    "read_learn_config",
    "split_store_ref",
    "store_content_hash",
]
