"""Checkpoints without pickle: safetensors for tensors, JSON for everything else, atomic writes.

A checkpoint in a run folder is four files, written in this order, each to a temporary name and
renamed into place: ``optimizer.safetensors``, ``weights.safetensors``, ``metrics.jsonl`` and last
``checkpoint.json`` (epoch, sha256 of the three others, extra state). ``checkpoint.json`` is the
commit point: a kill before it leaves files whose sha256 no longer match, which loading reports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backpack._io import atomic_write, atomic_write_json, sha256_file
from backpack.errors import RunError, invalid

if TYPE_CHECKING:  # torch is imported by the functions that need it: run folders are read without it
    import torch
    from torch import Tensor, nn

FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
OPTIMIZER = "optimizer.safetensors"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.json"


def _tensors_bytes(tensors: dict[str, Tensor], metadata: dict[str, str]) -> bytes:
    from safetensors.torch import save

    return save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=metadata)


def read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; anything else (e.g. a pickle) is refused."""
    from safetensors import safe_open

    if not path.is_file():
        raise RunError(f"Missing file {str(path)!r} in run folder {str(path.parent)!r}.")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            return {k: f.get_tensor(k) for k in f.keys()}, meta
    except Exception as exc:  # safetensors raises its own error types for bad headers
        raise RunError(f"File {str(path)!r} is not a valid safetensors file ({exc}).") from None


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Flatten an optimizer state: tensors as ``state.<param>.<name>``, the rest as JSON metadata."""
    from torch import Tensor

    sd = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            if isinstance(value, Tensor):
                tensors[f"state.{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    meta = {"param_groups": json.dumps(sd["param_groups"]), "scalars": json.dumps(scalars)}
    return tensors, meta


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], meta: dict[str, str]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    from backpack import safe_json

    for pid, values in safe_json.loads(meta.get("scalars", "{}"), "optimizer scalars", RunError).items():
        state.setdefault(int(pid), {}).update(values)
    optimizer.load_state_dict(
        {
            "state": state,
            "param_groups": safe_json.loads(meta["param_groups"], "optimizer param_groups", RunError),
        }
    )


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    epoch: int,
    history: list[dict[str, Any]] | None = None,
    extra_state: dict[str, Any] | None = None,
) -> Path:
    """Write the model, optimizer, metrics history and ``checkpoint.json`` of ``epoch`` atomically."""
    run = Path(run_dir)
    meta = {"format_version": str(FORMAT_VERSION), "epoch": str(epoch)}
    if optimizer is not None:
        tensors, ometa = optimizer_tensors(optimizer)
        atomic_write(run / OPTIMIZER, _tensors_bytes(tensors, {**meta, **ometa}))
    atomic_write(run / WEIGHTS, _tensors_bytes(dict(model.state_dict()), meta))
    lines = "".join(json.dumps(r, allow_nan=True) + "\n" for r in (history or []))
    atomic_write(run / METRICS, lines.encode())
    files = [WEIGHTS, METRICS] + ([OPTIMIZER] if optimizer is not None else [])
    atomic_write_json(
        run / CHECKPOINT,
        {
            "format_version": FORMAT_VERSION,
            "epoch": int(epoch),
            "sha256": {name: sha256_file(run / name) for name in files},
            "extra_state": extra_state or {},
        },
    )
    return run / CHECKPOINT


def read_metrics(path: Path) -> list[Any]:
    """The lines of a run's metrics file (JSON lines), each parsed within the safe bounds."""
    from backpack import safe_json

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"Cannot read {str(path)!r}: {exc}.") from None
    return [
        safe_json.loads(x, f"line {i + 1} of {str(path)!r}", RunError)
        for i, x in enumerate(lines)
        if x.strip()
    ]


def read_json(path: Path, missing: str) -> Any:
    """The JSON in ``path``; a missing file says ``Missing file 'path': <missing>``, bad JSON says so."""
    if not path.is_file():
        raise RunError(f"Missing file {str(path)!r}: {missing}")
    from backpack import safe_json

    return safe_json.load_file(path, RunError)


def read_checkpoint_info(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``checkpoint.json`` after checking its format version and the sha256 of every file it names."""
    run = Path(run_dir)
    path = run / CHECKPOINT
    info = read_json(path, f"{str(run)!r} holds no checkpoint.")
    if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION:
        got = info.get("format_version") if isinstance(info, dict) else info
        raise RunError(invalid("format_version", repr(str(path)), FORMAT_VERSION, got))
    for name, digest in dict(info.get("sha256", {})).items():
        target = run / name
        if not target.is_file():
            raise RunError(f"Missing file {str(target)!r} named by {str(path)!r}.")
        if sha256_file(target) != digest:
            raise RunError(invalid("sha256", repr(str(target)), digest, sha256_file(target)))
    return info


def load_checkpoint(
    run_dir: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """Restore ``model`` (and ``optimizer``) in place. Returns (epoch, metrics history, extra state)."""
    run = Path(run_dir)
    info = read_checkpoint_info(run)
    load_weights(run / WEIGHTS, model)
    if optimizer is not None:
        tensors, meta = read_safetensors(run / OPTIMIZER)
        try:
            restore_optimizer(optimizer, tensors, meta)
        except (KeyError, ValueError) as exc:
            raise RunError(f"File {str(run / OPTIMIZER)!r} does not match this optimizer ({exc}).") from None
    history = read_metrics(run / METRICS)
    return int(info["epoch"]), history, dict(info.get("extra_state", {}))


def load_weights(path: Path, model: nn.Module) -> None:
    """Load a safetensors state dict into ``model`` (strict: names and shapes must match)."""
    tensors, _ = read_safetensors(path)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise RunError(f"Weights in {str(path)!r} do not fit the model of this run ({first}).") from None
