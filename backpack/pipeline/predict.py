"""Predictions of a trained run on a split, in the files the Ego4D challenges take.

Formats (sources in docs/ego4d.md):

- LTA (EGO4D/forecasting ``tasks/long_term_anticipation.py::test_epoch_end``): one JSON object
  ``{"<clip_uid>_<action_idx of the last observed action>": {"verb": K x Z ints, "noun": K x Z ints}}``,
  one key per official window (:func:`~backpack.tasks.metrics.lta_windows`).
- OSCC (facebookresearch/EgoT2 ``HOI/submission/eval_oscc.py``): a JSON list of
  ``{"unique_id": str, "state_change": bool}``, one per clip.
- PNR (EgoT2 ``HOI/submission/eval_pnr.py``): a JSON list of ``{"unique_id": str, "pnr_frame": float}``,
  ``pnr_frame`` in frames relative to the clip's ``parent_start_frame`` (node i of 16 at
  ``(end - start) * i / 16``), one per clip of an unlabelled split (the positives of a labelled one).
- AR (no challenge file): ``{"<clip_uid>_<action_idx>": {"verb": int, "noun": int}}``, one per action.

The K LTA sequences are drawn exactly as the evaluation draws them (one generator seeded with the
run's seed, verbs then nouns), so predictions on a labelled split score what ``evaluate`` reports.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from backpack.errors import CheckError, ConfigError, DataError
from backpack.tasks._clips import node_input_of

PREDICTABLE = ("ar", "lta", "oscc", "pnr")


def collect_logits(
    model: Any,
    task: Any,
    samples: list[Any],
    *,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, Tensor]:
    """Logits of ``model`` for ``task`` over ``samples``, in order, concatenated (on the CPU)."""
    import sys

    from tqdm.auto import tqdm

    from backpack.backbone.graph import GraphBatch

    out: dict[str, list[Tensor]] = {}
    model.eval()
    starts = range(0, len(samples), batch_size)
    with torch.no_grad():
        for i in tqdm(starts, desc=f"predict {task.name}", disable=not progress, file=sys.stderr):
            batch = GraphBatch.collate(samples[i : i + batch_size]).to(device)
            for k, v in model(task.name, batch).items():
                out.setdefault(k, []).append(v.float().cpu())
    return {k: torch.cat(v) for k, v in out.items()}


def format_predictions(task: Any, ds: Any, split: str, logits: dict[str, Tensor], seed: int) -> Any:
    """The submission object of ``task`` (see the module docstring) from its logits on ``split``."""
    from backpack.tasks.metrics import sample_sequences

    if task.name == "lta":
        z, k = task.future, task.k
        gen = torch.Generator().manual_seed(seed)  # the order of lta_edit_distances: verbs, then nouns
        verbs = sample_sequences(logits["verb"].reshape(-1, z, logits["verb"].shape[-1]), k, gen)
        nouns = sample_sequences(logits["noun"].reshape(-1, z, logits["noun"].shape[-1]), k, gen)
        keys = [task.window_key(clip, s) for clip, s in task.windows(ds, split)]
        _check_count("lta", "window", len(keys), verbs.shape[0])
        return {key: {"verb": v.tolist(), "noun": n.tolist()} for key, v, n in zip(keys, verbs, nouns)}
    if task.name == "ar":
        actions = task.eval_actions(ds, split)
        verbs, nouns = logits["verb"].argmax(-1).tolist(), logits["noun"].argmax(-1).tolist()
        _check_count("ar", "action", len(actions), len(verbs))
        return {
            f"{a.clip_uid}_{a.action_idx}": {"verb": v, "noun": n} for a, v, n in zip(actions, verbs, nouns)
        }
    if task.name == "oscc":
        clips = ds.state_clips(split)
        states = logits["state"].argmax(-1).tolist()
        _check_count("oscc", "clip", len(clips), len(states))
        return [{"unique_id": c.unique_id, "state_change": bool(s == 1)} for c, s in zip(clips, states)]
    if task.name == "pnr":
        clips = task.eval_clips(ds, split)
        best = logits["pnr"].reshape(-1, task.nodes).argmax(-1).tolist()
        _check_count("pnr", "clip", len(clips), len(best))
        return [
            {"unique_id": c.unique_id, "pnr_frame": (c.end_frame - c.start_frame) / task.nodes * i}
            for c, i in zip(clips, best)
        ]
    raise ConfigError(
        f"Task {task.name!r} has no prediction format. Expected one of: {', '.join(PREDICTABLE)}."
    )


def _check_count(task: str, unit: str, expected: int, got: int) -> None:
    if expected != got:
        raise CheckError(
            f"Invalid number of {task!r} predictions. Expected one per {unit} ({expected}). Got {got}."
        )


def check_predictions(task: str, ds: Any, split: str, predictions: Any, expected_keys: list[str]) -> None:
    """Every expected key (window, clip or action) has exactly one prediction, and nothing else does."""
    if task in ("oscc", "pnr"):
        got = [p["unique_id"] for p in predictions]
    else:
        got = list(predictions)
    dupes = sorted({k for k in got if got.count(k) > 1}) if len(set(got)) != len(got) else []
    if dupes:
        raise CheckError(
            f"Invalid {task!r} predictions: {len(dupes)} key(s) predicted twice, e.g. {dupes[0]!r}."
        )
    missing, extra = sorted(set(expected_keys) - set(got)), sorted(set(got) - set(expected_keys))
    if missing or extra:
        raise CheckError(
            f"Invalid {task!r} predictions for split {split!r}. Expected one per key ({len(expected_keys)}). "
            f"Got {len(missing)} missing (e.g. {missing[:1]}), {len(extra)} unexpected (e.g. {extra[:1]})."
        )


def expected_keys(task: Any, ds: Any, split: str) -> list[str]:
    """The keys a complete prediction file of ``task`` on ``split`` holds, straight from the annotations."""
    from backpack.tasks._clips import group_by_clip
    from backpack.tasks.metrics import lta_windows

    if task.name == "lta":
        return [
            f"{clip[s + task.observed - 1].clip_uid}_{clip[s + task.observed - 1].action_idx}"
            for clip in group_by_clip(ds.action_clips(split), by_index=True)
            for s in lta_windows(len(clip), task.observed, task.future, task.last_window)
        ]
    if task.name == "ar":
        return [f"{a.clip_uid}_{a.action_idx}" for a in ds.action_clips(split)]
    clips = ds.state_clips(split)
    if task.name == "pnr":
        clips = [c for c in clips if c.state_change is None or c.pnr_frame is not None]
    return [c.unique_id for c in clips]


def predict_model(
    model: Any,
    tasks: dict[str, Any],
    ds: Any,
    split: str,
    *,
    seed: int = 0,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """{task: submission object} of every task in ``tasks``, each checked complete.

    Raises
    ------
    DataError
        A task without any graph in ``split`` (e.g. LTA clips shorter than N + Z actions).
    CheckError
        A window, clip or action without exactly one prediction.
    """
    out: dict[str, Any] = {}
    for name, task in tasks.items():
        samples = task.build_samples(ds, split, train=False, seed=seed, node_input=node_input_of(model))
        if not samples:
            need = f" ({task.requirement})" if hasattr(task, "requirement") else ""
            where = f"split {split!r} of {str(ds.root)!r}{need}"
            raise DataError(f"No {name!r} sample in {where}. Expected at least 1. Got 0.")
        logits = collect_logits(model, task, samples, batch_size=batch_size, device=device, progress=progress)
        out[name] = format_predictions(task, ds, split, logits, seed)
        check_predictions(name, ds, split, out[name], expected_keys(task, ds, split))
    return out


def output_paths(out: str | os.PathLike[str], tasks: list[str]) -> dict[str, Path]:
    """One task: ``out`` itself. Several: ``out`` is a folder holding ``<task>.json`` per task."""
    path = Path(out)
    if len(tasks) == 1:
        return {tasks[0]: path}
    return {t: path / f"{t}.json" for t in tasks}


def predict_run(
    run_dir: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    split: str,
    out: str | os.PathLike[str],
    *,
    tasks: list[str] | None = None,
    device: str = "auto",
    features: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    skip_missing: bool = False,
    engine: str | None = None,
    batch_size: int = 32,
    store: str | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: bool = True,
    ds: Any = None,
    lta_windows: str = "official",
) -> dict[str, Any]:
    """Write the prediction files of a run (``backpack train`` or ``backpack learn``) on ``split``.

    A learn run uses the store version recorded when it was trained (``store`` overrides it, as
    for ``evaluate``). ``ds`` passes an opened dataset instead of ``data_root``. ``lta_windows``:
    ``"official"`` (the current EGO4D/forecasting bound) or ``"challenge"`` (each clip's last window
    left out, as the challenge's test keys were made; see docs/ego4d.md). Returns the summary that
    ``backpack predict --json`` prints: files, counts per task, K, Z and the PNR fps.
    """
    from backpack._io import atomic_write_json
    from backpack.data import Ego4DDataset
    from backpack.pipeline.devices import resolve_device
    from backpack.pipeline.evaluate import check_data_fits, recorded_feature_time
    from backpack.pipeline.runs import load_run

    dev = resolve_device(device)
    # a learn run opens its recorded store version (or ``store``); a train run refuses both
    run = load_run(run_dir, device=str(dev), engine=engine, store=store, storage_options=storage_options)
    model, all_tasks, seed = run.model, dict(run.model.tasks), run.config.seed
    if lta_windows not in ("official", "challenge"):
        raise ConfigError(
            f"Invalid value for '--lta-windows'. Expected 'official' or 'challenge'. Got {lta_windows!r}."
        )
    if lta_windows == "challenge" and "lta" in all_tasks:
        all_tasks["lta"] = copy.copy(all_tasks["lta"])  # the registry's task stays as it is
        all_tasks["lta"].last_window = False
    chosen = list(all_tasks) if not tasks else tasks
    unknown = [t for t in chosen if t not in all_tasks]
    if unknown:
        raise ConfigError(
            f"Invalid value for '--task' for run {str(run_dir)!r}. "
            f"Expected one of {sorted(all_tasks)}. Got {unknown}."
        )
    if ds is None:
        ds = Ego4DDataset(
            data_root,
            features=features or run.model_config.features,
            cache_dir=cache_dir,
            skip_missing=skip_missing,
            tasks=chosen,
            splits=[split],
            **recorded_feature_time(run.model_config, features),
        )
    check_data_fits(run, ds)
    preds = predict_model(
        model,
        {t: all_tasks[t] for t in chosen},
        ds,
        split,
        seed=seed,
        batch_size=batch_size,
        device=dev,
        progress=progress,
    )
    paths = output_paths(out, chosen)
    for name, obj in preds.items():
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(paths[name], obj)
    summary: dict[str, Any] = {
        "run": str(run_dir),
        "split": split,
        "files": {t: str(p) for t, p in paths.items()},
        "predictions": {t: len(p) for t, p in preds.items()},
    }
    if "lta" in preds:
        lta = all_tasks["lta"]
        summary["lta"] = {
            "windows": len(preds["lta"]),
            "k": lta.k,
            "z": lta.future,
            "observed": lta.observed,
            "bound": lta_windows,
        }
    if "pnr" in preds:
        summary["pnr"] = {"fps": all_tasks["pnr"].fps, "pnr_frame": "frames from parent_start_frame"}
    return summary


__all__ = ["check_predictions", "expected_keys", "format_predictions", "predict_model", "predict_run"]
