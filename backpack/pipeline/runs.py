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

from backpack.data.sampling import DEFAULT_NODE_INPUT, node_slots
from backpack.errors import ConfigError, RunError, invalid
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
    """Everything needed to rebuild the model of a run and to tell whether data fits it.

    Its field defaults are the defaults of ``backpack train`` and of :func:`train_run` alike.
    lr 1e-3 over 10 epochs trains the small model on the synthetic data in minutes; the paper's
    1e-4 / 1e-6 over 30-40 epochs are for Ego4D.
    """

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
    weight_decay: float = 0.0
    node_input: str = DEFAULT_NODE_INPUT
    standardize: bool = True
    select_metric: str = ""
    batch_size: int = 16
    seed: int = 0
    engine: str = "auto"
    features: str = "omnivore_video_swinl"
    limit: dict[str, int] = field(default_factory=dict)
    data_fingerprint: str = ""
    data_files: dict[str, str] = field(default_factory=dict)  # per-file digests behind the fingerprint
    feature_time: dict[str, Any] = field(default_factory=dict)  # frames per feature row (window, stride, fps)
    backpack_version: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        from backpack.data.sampling import check_node_input

        check_node_input(self.node_input, "the run config")

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
        # runs written before these fields existed used single-row sampling and no regularisation
        d = {"node_input": "sample", "weight_decay": 0.0, "standardize": False, "select_metric": "", **d}
        try:
            return cls(**{**d, "tasks": tuple(d["tasks"]), "limit": dict(d.get("limit", {}))})
        except TypeError as exc:
            raise RunError(f"Invalid config in {where}: {exc}.") from None

    def compatible_with(self, other: RunConfig) -> list[str]:
        """Fields (other than ``epochs``) whose values differ: a resume must not change them.

        ``data_files`` is left out: it differs exactly when ``data_fingerprint`` does, and the
        resume message names the changed files from it.
        """
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if k not in ("epochs", "backpack_version", "data_files") and a[k] != b[k]]


@dataclass
class Run:
    """A trained run loaded from its folder."""

    dir: Path
    config: RunConfig
    taxonomy: Any
    model: Any
    metrics_history: list[dict[str, Any]]
    epoch: int = 0
    selected: dict[str, Any] = field(default_factory=dict)  # which weights: {"select", "epoch", ...}

    kind = "train"  # a run of `backpack train` (a run of `backpack learn` is a LearnerRun)

    @property
    def model_config(self) -> RunConfig:
        """The settings that shape the model and the data it reads (shared by both kinds of run)."""
        return self.config


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
    """A fresh multi-task model shaped like ``config``'s (weights not loaded); engine None -> "auto".

    ``model.node_input`` records the config's node input, so that whatever builds graphs for the
    model (evaluate, build, the learner) forms them as in training."""
    from backpack.models.multitask import build_model

    model = build_model(
        list(config.tasks),
        taxonomy,
        config.in_dim,
        model=config.model,
        hidden=config.hidden,
        layers=config.layers,
        feat_dim=config.feat_dim,
        engine=engine or "auto",
        dropout=config.dropout,
        sub_segments=node_slots(config.node_input, config.sub_segments),
        standardize=config.standardize,
    )
    model.node_input = config.node_input  # how its inputs are formed (read by node_input_of)
    return model


def run_kind(run_dir: str | os.PathLike[str]) -> str:
    """``"learn"`` for a run of ``backpack learn`` (it has ``learner.json``), else ``"train"``.

    The one place the two kinds of run folder are told apart; cheap (no file is parsed).
    """
    from backpack.pipeline.learner_runs import LEARNER

    return "learn" if (Path(run_dir) / LEARNER).is_file() else "train"


def load_run(
    run_dir: str | os.PathLike[str],
    device: str = "cpu",
    engine: str | None = None,
    select: str = "last",
    *,
    store: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Load a run folder of either kind: config, vocabulary, model weights (safetensors only) and metrics.

    A run of ``backpack train`` gives a :class:`Run`; a run of ``backpack learn`` gives a
    :class:`~backpack.pipeline.learn.LearnerRun` with its recorded store version opened (or
    ``store``, with ``storage_options``). Both have ``kind``, ``dir``, ``taxonomy``, ``model`` and
    ``model_config`` (the :class:`RunConfig` that shapes the model and the data it reads).

    Parameters
    ----------
    run_dir : the RUN folder written by ``backpack train`` or ``backpack learn``.
    device : where the model goes.
    engine : graph engine to run it with; None -> "auto" (weights do not depend on the engine, so a
        run trained with DGL runs on the native engine where DGL is missing).
    select : "last" (the last finished epoch) or "best" (the best epoch by the run's selection
        metric, :mod:`backpack.pipeline.selection`); ``Run.selected`` says which was loaded.

    Raises
    ------
    RunError
        A missing folder or file, an incompatible ``format_version``, a checksum mismatch, or
        weights that are not safetensors (pickles are never loaded) or do not fit the model.
    ConfigError
        ``store`` or ``storage_options`` given for a run of ``backpack train`` (it has no store).
    """
    if run_kind(run_dir) == "learn":
        from backpack.pipeline.learn import load_learner_run

        if select != "last":  # a learn run keeps its last epoch only
            raise ConfigError(
                f"--select {select} applies only to runs of `backpack train`; {str(run_dir)!r} is a `learn` "
                "run."
            )
        return load_learner_run(
            run_dir, device=device, engine=engine, store=store, storage_options=storage_options
        )
    if store is not None or storage_options:
        flag = "--store" if store is not None else "--storage-option"
        raise ConfigError(
            f"{flag} applies only to runs of `backpack learn`; {str(run_dir)!r} is a `train` run."
        )
    run, config, taxonomy, info = read_run_files(run_dir)
    model = model_from_config(config, taxonomy, engine)
    from backpack.pipeline.selection import load_selected

    load_weights(run / WEIGHTS, model)
    selected = load_selected(run, model, select, int(info["epoch"]))
    model.to(device).eval()
    metrics_path = run / METRICS
    history = read_metrics(metrics_path)
    return Run(run, config, taxonomy, model, history, epoch=selected["epoch"], selected=selected)
