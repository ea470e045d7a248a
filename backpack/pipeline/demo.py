"""``backpack demo``: the whole EgoPack story on synthetic data, in minutes on a laptop.

Single-task temporal graph on the novel task, multi-task (MTL) on the other three, the backpack
built from the MTL run, then the novel task learned with the backpack (EgoPack) and without it
(MTL+FT), both from few labelled clips; every run is evaluated and the results printed as the
paper's Table 1. Every step is cached in the output folder: a second run only re-evaluates.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backpack.errors import ConfigError, invalid
from backpack.pipeline.learner_runs import LearnConfig

ALL_TASKS = ("ar", "lta", "oscc", "pnr")
# the linear probe is the floor: a linear classifier on each unit's mean feature row (AR, OSCC)
METHODS = ("Linear probe", "Single-task (temporal graph)", "MTL", "MTL+FT", "EgoPack")


@dataclass(frozen=True)
class DemoConfig:
    """What the demo trains. Defaults: about 5 minutes on 2 CPU cores for the "small" data."""

    novel: str = "oscc"
    seed: int = 0
    size: str = "small"
    world: str = "clean"  # synthetic world (backpack synth --world)
    hidden: int = 128
    feat_dim: int = 128
    mtl_epochs: int = 30
    mtl_limit: dict[str, int] = field(default_factory=lambda: {"lta": 240})
    few_labels: int = 100  # labelled samples of the novel task
    learn_epochs: int = LearnConfig.epochs
    lr: float = LearnConfig.lr
    base_lr_scale: float = LearnConfig.base_lr_scale  # EgoPack and MTL+FT alike
    k: int = LearnConfig.k
    depth: int = 2

    def __post_init__(self) -> None:
        if self.novel not in ALL_TASKS:
            raise ConfigError(invalid("novel", "the demo", f"one of {list(ALL_TASKS)}", repr(self.novel)))

    def learn_config(self, **overrides: Any) -> Any:
        """The :class:`~backpack.pipeline.learner_runs.LearnConfig` of the demo's learning runs (EgoPack; pass
        ``no_backpack=True`` for MTL+FT, or another ``k`` / ``depth`` as the sweep does)."""
        from backpack.pipeline.learner_runs import LearnConfig

        settings = dict(
            task=self.novel,
            limit=self.few_labels,
            epochs=self.learn_epochs,
            lr=self.lr,
            base_lr_scale=self.base_lr_scale,
            seed=self.seed,
            k=self.k,
            depth=self.depth,
        )
        return LearnConfig(**{**settings, **overrides})


def _complete(run_dir: Path) -> bool:
    return (run_dir / "checkpoint.json").is_file()


def _fresh(run_dir: Path) -> None:
    """A run folder left half-written by an interrupted demo is the demo's own: start it again."""
    if run_dir.exists() and not _complete(run_dir):
        shutil.rmtree(run_dir)


def run_demo(
    out: str | os.PathLike[str],
    config: DemoConfig = DemoConfig(),
    *,
    device: str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or resume) the demo in ``out``; returns ``{"config", "table", "store", "runs", "steps"}``.

    ``table`` maps method -> task -> metrics (only the cells the method was trained for); ``steps``
    lists every step with its output path and whether it was reused from ``out`` (``cached``).
    ``log`` gets one line per step: ``"[2/6] train single-task oscc ...: reused runs/single-oscc
    (cached)"`` or ``"...: running -> runs/single-oscc"``.
    """
    from backpack.data import Ego4DDataset, world_config, write_synthetic
    from backpack.pipeline import evaluate_run, load_run, train_run
    from backpack.pipeline.build import build_prototypes
    from backpack.pipeline.learn import evaluate_learner_run, learn_novel_task
    from backpack.pipeline.linear_probe import linear_probe
    from backpack.pipeline.report import store_summary
    from backpack.store import Backpack

    root = Path(out) / f"seed-{config.seed}"
    root.mkdir(parents=True, exist_ok=True)
    steps: list[dict[str, Any]] = []

    def step(n: int, name: str, path: Path, cached: bool) -> bool:
        """Log step ``n`` as reused (``cached``) or about to run; record it; True when it must run."""
        rel = path.relative_to(root)
        log(f"[{n}/6] {name}: " + (f"reused {rel} (cached)" if cached else f"running -> {rel}"))
        steps.append({"step": name, "path": str(path), "cached": cached})
        return not cached

    data = root / "data"
    if step(1, "synthetic data", data, (data / "annotations").is_dir()):
        if data.exists():
            shutil.rmtree(data)
        write_synthetic(data, seed=config.seed, size=world_config(config.size, config.world))
    others = [t for t in ALL_TASKS if t != config.novel]
    common = dict(hidden=config.hidden, feat_dim=config.feat_dim, seed=config.seed, lr=config.lr)
    mtl_name = "mtl-" + "-".join(others)  # another novel task, another multi-task run and store
    runs = {
        "single": root / "runs" / f"single-{config.novel}",
        "mtl": root / "runs" / mtl_name,
        "egopack": root / "runs" / f"egopack-{config.novel}",
        "mtl_ft": root / "runs" / f"mtl-ft-{config.novel}",
    }
    for r in runs.values():
        _fresh(r)
    name = f"train single-task {config.novel} ({config.few_labels} labelled samples)"
    if step(2, name, runs["single"], _complete(runs["single"])):
        train_run(
            data,
            config.novel,
            runs["single"],
            epochs=config.learn_epochs,
            device=device,
            progress=progress,
            limit={config.novel: config.few_labels},
            **common,
        )
    if step(3, f"train multi-task {','.join(others)}", runs["mtl"], _complete(runs["mtl"])):
        limit = {t: n for t, n in config.mtl_limit.items() if t in others}
        train_run(
            data,
            others,
            runs["mtl"],
            epochs=config.mtl_epochs,
            device=device,
            progress=progress,
            limit=limit,
            **common,
        )
    store = root / f"store-{mtl_name}"
    if step(4, "build the backpack", store, _has_version(store)):
        if store.exists():
            shutil.rmtree(store)
        build_prototypes(
            load_run(runs["mtl"], device=device),
            Ego4DDataset(data),
            str(store),
            tag="mtl",
            message="demo: prototypes of the multi-task run",
            device=device,
            progress=progress,
        )
    for key, extra, label in (("egopack", {}, "EgoPack"), ("mtl_ft", {"no_backpack": True}, "MTL+FT")):
        if step(5, f"learn {config.novel} with {label}", runs[key], _complete(runs[key])):
            learn_novel_task(
                data,
                runs["mtl"],
                f"{store}@mtl",
                runs[key],
                config.learn_config(**extra),
                device=device,
                progress=progress,
            )
    log("[6/6] evaluating")
    # the novel task from the same few labels as the single-task graph; the other tasks from all
    probe = linear_probe(data, limit={config.novel: config.few_labels}, seed=config.seed)
    table: dict[str, dict[str, dict[str, float]]] = {
        METHODS[0]: probe,
        METHODS[1]: evaluate_run(runs["single"], data, device=device),
        METHODS[2]: evaluate_run(runs["mtl"], data, device=device),
        METHODS[3]: evaluate_learner_run(runs["mtl_ft"], data, device=device),
        METHODS[4]: evaluate_learner_run(runs["egopack"], data, device=device),
    }
    with Backpack.open(store) as bp:
        summary = store_summary(bp)
    return {
        "config": asdict(config),
        "table": table,
        "store": summary,
        "runs": {k: str(v) for k, v in runs.items()},
        "steps": steps,
    }


def _has_version(store: Path) -> bool:
    from backpack.store import Backpack

    try:
        with Backpack.open(store) as bp:
            return bool(bp.versions()) and "mtl" in bp.tags()
    except Exception:  # a half-created store folder: rebuilt
        return False


# lower is better for these metrics (LTA edit distance, PNR error in seconds)
LOWER_IS_BETTER = ("verb_ed", "noun_ed", "action_ed", "loc_error_s")


def format_table(table: dict[str, dict[str, dict[str, float]]], novel: str) -> str:
    """Markdown table: one row per method, one column per task metric (``-`` where not trained)."""
    cols = [(t, m) for t in ALL_TASKS for m in _metrics_of(table, t)]
    head = (
        "| Method | "
        + " | ".join(f"{t.upper()} {m}{' (lower better)' if m in LOWER_IS_BETTER else ''}" for t, m in cols)
        + " |"
    )
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for method, tasks in table.items():
        cells = [_cell(tasks[t][m], m) if t in tasks and m in tasks[t] else "-" for t, m in cols]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines.append(
        f"\nNovel task: {novel.upper()} (few labelled clips); MTL is trained on the other three tasks."
    )
    return "\n".join(lines)


def _cell(value: float, metric: str) -> str:
    # counts beside the metrics (LTA windows, PNR clips) and the PNR fps are plain numbers
    return f"{value:g}" if metric in ("windows", "clips", "fps") else f"{value:.3f}"


def _metrics_of(table: dict[str, dict[str, dict[str, float]]], task: str) -> list[str]:
    names: list[str] = []
    for tasks in table.values():
        for m in tasks.get(task, {}):
            if m not in names:
                names.append(m)
    return names


__all__ = ["DemoConfig", "METHODS", "format_table", "run_demo"]
