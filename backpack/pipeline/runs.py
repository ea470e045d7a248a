"""Run folders: the configuration of a training run and loading a trained run back.

A RUN folder holds ``config.json`` (:class:`RunConfig`), ``vocabulary.json`` (verbs and nouns),
``weights.safetensors``, ``optimizer.safetensors``, ``metrics.jsonl`` (one line per epoch) and
``checkpoint.json`` (see :mod:`backpack.pipeline.checkpoint`). Nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backpack.errors import RunError, invalid
from backpack.pipeline.checkpoint import (
    CHECKPOINT,
    FORMAT_VERSION,
    METRICS,
    WEIGHTS,
    atomic_write_json,
    load_weights,
    read_checkpoint_info,
    read_json,
    read_metrics,
)

CONFIG = "config.json"
VOCABULARY = "vocabulary.json"


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to rebuild the model of a run and to tell whether data fits it."""

    tasks: tuple[str, ...]
    in_dim: int
    model: str = "graph"
    hidden: int = 256
    layers: int = 2
    feat_dim: int = 256
    dropout: float = 0.1
    sub_segments: int = 3
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 16
    seed: int = 0
    engine: str = "auto"
    features: str = "omnivore_video_swinl"
    limit: dict[str, int] = field(default_factory=dict)
    data_fingerprint: str = ""
    backpack_version: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["tasks"] = list(self.tasks)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> RunConfig:
        """Parse a dict written by :meth:`to_dict`; an unknown format version or field is refused."""
        if not isinstance(d, dict):
            raise RunError(invalid("config", where, "a JSON object", type(d).__name__))
        if d.get("format_version") != FORMAT_VERSION:
            raise RunError(invalid("format_version", where, FORMAT_VERSION, d.get("format_version")))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise RunError(invalid("fields", where, f"only {sorted(known)}", unknown))
        for name in ("tasks", "in_dim"):
            if name not in d:
                raise RunError(invalid(name, where, "a value", "nothing"))
        try:
            return cls(**{**d, "tasks": tuple(d["tasks"]), "limit": dict(d.get("limit", {}))})
        except TypeError as exc:
            raise RunError(f"Invalid config in {where}: {exc}.") from None

    def compatible_with(self, other: RunConfig) -> list[str]:
        """Fields (other than ``epochs``) whose values differ: a resume must not change them."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if k not in ("epochs", "backpack_version") and a[k] != b[k]]


@dataclass
class Run:
    """A trained run loaded from its folder."""

    dir: Path
    config: RunConfig
    taxonomy: Any
    model: Any
    metrics_history: list[dict[str, Any]]
    epoch: int = 0


def _read_json(path: Path) -> Any:
    return read_json(path, f"every run folder holds it (run folder {str(path.parent)!r}).")


def read_config(run_dir: str | os.PathLike[str]) -> RunConfig:
    """The :class:`RunConfig` of a run folder."""
    path = Path(run_dir) / CONFIG
    return RunConfig.from_dict(_read_json(path), where=repr(str(path)))


def read_taxonomy(run_dir: str | os.PathLike[str]) -> Any:
    """The label vocabulary saved with a run (a :class:`~backpack.data.Taxonomy`)."""
    from backpack.data import Taxonomy

    path = Path(run_dir) / VOCABULARY
    d = _read_json(path)
    if (
        not isinstance(d, dict)
        or not isinstance(d.get("verbs"), list)
        or not isinstance(d.get("nouns"), list)
    ):
        raise RunError(invalid("verbs/nouns", repr(str(path)), "two lists of names", type(d).__name__))
    return Taxonomy(tuple(d["verbs"]), tuple(d["nouns"]))


def write_run_files(run_dir: str | os.PathLike[str], config: RunConfig, taxonomy: Any) -> None:
    """Write ``config.json`` and ``vocabulary.json`` atomically."""
    run = Path(run_dir)
    atomic_write_json(run / CONFIG, config.to_dict())
    atomic_write_json(run / VOCABULARY, {"verbs": list(taxonomy.verbs), "nouns": list(taxonomy.nouns)})


def read_run_files(run_dir: str | os.PathLike[str]) -> tuple[Path, RunConfig, Any, dict[str, Any]]:
    """(folder, config, vocabulary, checkpoint info) of a run, every file checked before any weight is read.

    The checkpoint info's checksums cover every file, the weights included (a run without a
    checksum for its weights is refused). Shared by ``load_run`` and the learner's loader.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise RunError(f"Run folder {str(run)!r} does not exist.")
    config = read_config(run)
    taxonomy = read_taxonomy(run)
    info = read_checkpoint_info(run)
    if WEIGHTS not in info.get("sha256", {}):
        raise RunError(invalid("sha256", repr(str(run / CHECKPOINT)), f"an entry for {WEIGHTS}", "none"))
    return run, config, taxonomy, info


def model_from_config(config: RunConfig, taxonomy: Any, engine: str | None = None) -> Any:
    """A fresh multi-task model shaped like ``config``'s (weights not loaded); engine None -> "auto"."""
    from backpack.models.multitask import build_model

    return build_model(
        list(config.tasks),
        taxonomy,
        config.in_dim,
        model=config.model,
        hidden=config.hidden,
        layers=config.layers,
        feat_dim=config.feat_dim,
        engine=engine or "auto",
        dropout=config.dropout,
        sub_segments=config.sub_segments,
    )


def load_run(run_dir: str | os.PathLike[str], device: str = "cpu", engine: str | None = None) -> Run:
    """Load a run folder: config, vocabulary, model weights (safetensors only) and metrics.

    Parameters
    ----------
    run_dir : the RUN folder written by ``backpack train``.
    device : where the model goes.
    engine : graph engine to run it with; None -> "auto" (weights do not depend on the engine, so a
        run trained with DGL runs on the native engine where DGL is missing).

    Raises
    ------
    RunError
        A missing folder or file, an incompatible ``format_version``, a checksum mismatch, or
        weights that are not safetensors (pickles are never loaded) or do not fit the model.
    """
    run, config, taxonomy, info = read_run_files(run_dir)
    model = model_from_config(config, taxonomy, engine)
    load_weights(run / WEIGHTS, model)
    model.to(device).eval()
    metrics_path = run / METRICS
    history = read_metrics(metrics_path)
    return Run(run, config, taxonomy, model, history, epoch=int(info["epoch"]))
