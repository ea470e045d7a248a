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

from backpack.errors import ConfigError, RunError, invalid

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
    # lr of the pre-trained backbone and heads = lr * base_lr_scale: a tenth, so that the few
    # labels of the novel task refine what the multi-task model learned rather than overwrite it
    base_lr_scale: float = 0.1
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


def open_store(store: str, storage_options: dict[str, Any] | None = None) -> Any:
    """Open ``STORE[@TAG]`` read-only; a missing or empty store is a clear error."""
    from backpack.store.ref import open_ref

    return open_ref(store, storage_options=storage_options, require_version=True)


__all__ = [
    "LEARNER",
    "LearnConfig",
    "open_store",
    "read_learn_config",
    "store_content_hash",
]
