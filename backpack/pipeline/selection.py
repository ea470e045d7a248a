"""Model selection: a run keeps its last epoch and its best epoch by one named validation metric.

``weights.safetensors`` is always the last finished epoch (what ``--resume`` continues from).
``weights_best.safetensors`` holds the epoch with the best value of the run's selection metric
(``RunConfig.select_metric``, ``"task.metric"``; empty = the first metric of the first task), and
``best.json`` names that epoch, the metric, its value and the file's sha256. ``best.json`` is
written after the weights, so it is the commit point: a kill in between leaves a sha256 mismatch,
which loading reports, and a resumed run rewrites both.

``evaluate`` and ``build`` use the last epoch unless told ``--select best``: with a single labelled
held-out split (val), choosing the epoch on it and then reporting on it would flatter the numbers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from torch import nn

from backpack._io import atomic_write, atomic_write_json, sha256_file
from backpack.errors import ConfigError, RunError, invalid
from backpack.pipeline.checkpoint import _tensors_bytes, load_weights, read_json

BEST_WEIGHTS = "weights_best.safetensors"
BEST = "best.json"
SELECTIONS = ("last", "best")


def lower_is_better(metric: str) -> bool:
    """Edit distances (``*_ed``) and errors (``*error*``) improve downwards; accuracies upwards."""
    return metric.endswith("_ed") or "error" in metric


def selection_metric(spec: str, tasks: list[str]) -> tuple[str, str]:
    """``(task, metric)`` of ``spec`` ("task.metric", or "" for the first metric of the first task)."""
    from backpack.tasks.registry import get_task

    if not spec:
        return tasks[0], get_task(tasks[0]).metric_names[0]
    task, _, metric = spec.partition(".")
    if task not in tasks or metric not in get_task(task).metric_names:
        known = [f"{t}.{m}" for t in tasks for m in get_task(t).metric_names]
        raise ConfigError(invalid("select_metric", "the run config", " or ".join(known), repr(spec)))
    return task, metric


def update_best(out: Path, model: nn.Module, epoch: int, val: dict[str, Any], task: str, metric: str) -> None:
    """Keep ``model`` as the best epoch if ``val[task][metric]`` beats ``best.json`` (ties keep the older)."""
    value = val.get(task, {}).get(metric)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    path = out / BEST
    if path.is_file():
        prev = read_json(path, "")
        old = float(prev["value"])
        if int(prev["epoch"]) >= epoch or not (value < old if lower_is_better(metric) else value > old):
            return
    meta = {"epoch": str(epoch)}
    atomic_write(out / BEST_WEIGHTS, _tensors_bytes(dict(model.state_dict()), meta))
    record = {"epoch": int(epoch), "metric": f"{task}.{metric}", "value": float(value)}
    atomic_write_json(path, {**record, "sha256": sha256_file(out / BEST_WEIGHTS)})


def load_selected(run_dir: Path, model: nn.Module, select: str, last_epoch: int) -> dict[str, Any]:
    """Load the ``select`` ("last" or "best") weights into ``model`` (the last are already loaded).

    Returns ``{"select", "epoch"}`` (plus ``"metric"`` and ``"value"`` for best), which evaluate and
    build report.
    """
    if select not in SELECTIONS:
        raise ConfigError(invalid("select", f"run {str(run_dir)!r}", "last or best", repr(select)))
    if select == "last":
        return {"select": "last", "epoch": int(last_epoch)}
    path = run_dir / BEST
    info = read_json(path, "the run kept no best epoch (no validation metric); use --select last.")
    target = run_dir / BEST_WEIGHTS
    if not target.is_file():
        raise RunError(f"Missing file {str(target)!r} named by {str(path)!r}.")
    if sha256_file(target) != info.get("sha256"):
        raise RunError(invalid("sha256", repr(str(target)), info.get("sha256"), sha256_file(target)))
    load_weights(target, model)
    return {"select": "best", "epoch": int(info["epoch"]), "metric": info["metric"], "value": info["value"]}


__all__ = ["BEST", "BEST_WEIGHTS", "SELECTIONS", "load_selected", "lower_is_better", "selection_metric"]
