"""Every method beside the linear-probe floor, per task, on both synthetic worlds, over seeds.

Usage::

    python experiments/floor_table.py --worlds clean noisy --seeds 0 1 2 \\
        --markdown experiments/results/floor_table.md --json experiments/results/floor_table.json

For each (world, seed) the demo is run (``backpack demo``'s defaults, ``DemoConfig``): the single-task
temporal graph on the novel task OSCC from 100 labelled clips, MTL on AR + LTA + PNR, the backpack
built from it, then OSCC learned from the same 100 clips with EgoPack and with MTL+FT. Beside them:
the linear probe (AR on every train action; OSCC on the same 100 clips), the MLP baseline and the
single-task graph on AR (``--ar-epochs``), and the MLP on OSCC (100 clips). Every number is the last
epoch's val metric (no selection on val). Runs are cached under ``--work`` (a rerun only
re-evaluates).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

ROWS = ("Linear probe", "MLP", "Single-task (temporal graph)", "MTL", "MTL+FT", "EgoPack")
COLUMNS = (
    ("ar", "verb_top1"),
    ("ar", "noun_top1"),
    ("oscc", "accuracy"),
    ("lta", "action_ed"),
    ("pnr", "loc_error_s"),
)


def one(
    world: str, seed: int, work: Path, ar_epochs: int, **demo: Any
) -> dict[str, dict[str, dict[str, float]]]:
    """Method -> task -> metrics of one (world, seed); ``demo`` overrides :class:`DemoConfig` fields."""
    from backpack.pipeline import evaluate_run, train_run
    from backpack.pipeline.demo import DemoConfig, run_demo

    cfg = DemoConfig(seed=seed, world=world, **demo)
    out = work / world
    demo = run_demo(out, cfg, device="cpu", progress=False, log=lambda m: None)
    table = {k: dict(v) for k, v in demo["table"].items()}
    data = out / f"seed-{seed}" / "data"
    runs = out / f"seed-{seed}" / "runs"
    few = {"oscc": cfg.few_labels}
    common = dict(
        hidden=cfg.hidden, feat_dim=cfg.feat_dim, seed=seed, lr=cfg.lr, device="cpu", progress=False
    )
    extra = {
        ("MLP", "ar"): dict(tasks="ar", epochs=ar_epochs, model="mlp"),
        ("Single-task (temporal graph)", "ar"): dict(tasks="ar", epochs=ar_epochs),
        ("MLP", "oscc"): dict(tasks="oscc", epochs=cfg.learn_epochs, model="mlp", limit=few),
    }
    for (method, task), kw in extra.items():
        folder = runs / f"{method.split()[0].lower()}-{task}"
        if not (folder / "checkpoint.json").is_file():
            train_run(data, out=folder, **{**common, **kw})
        table.setdefault(method, {})[task] = evaluate_run(folder, data, device="cpu")[task]
    return table  # its "Linear probe" row is the demo's (AR on every action, OSCC on the same clips)


def summarise(results: dict[str, dict[int, Any]]) -> str:
    """Markdown: per world, mean +- std over seeds of every (method, task metric) cell."""
    lines = []
    for world, seeds in results.items():
        head = " | ".join(
            f"{t.upper()} {m}" + (" (lower better)" if m.endswith(("_ed", "_s")) else "") for t, m in COLUMNS
        )
        lines += [
            f"\n### World `{world}` (seeds {sorted(seeds)})\n",
            f"| Method | {head} |",
            "|---" * (len(COLUMNS) + 1) + "|",
        ]
        for method in ROWS:
            cells = []
            for t, m in COLUMNS:
                vals = [
                    s[method][t][m] for s in seeds.values() if t in s.get(method, {}) and m in s[method][t]
                ]
                if not vals:
                    cells.append("-")
                    continue
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                cells.append(f"{statistics.mean(vals):.2f} +- {sd:.2f}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worlds", nargs="+", default=["clean", "noisy"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--ar-epochs", type=int, default=30, help="epochs of the AR-only MLP and graph")
    p.add_argument("--mtl-epochs", type=int, default=None, help="epochs of MTL (default: the demo's)")
    p.add_argument("--hidden", type=int, default=None, help="hidden and feature width (default: the demo's)")
    p.add_argument("--work", type=Path, default=Path("floor-table-work"))
    p.add_argument("--markdown", type=Path)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    demo: dict[str, Any] = {}
    if a.mtl_epochs is not None:
        demo["mtl_epochs"] = a.mtl_epochs
    if a.hidden is not None:
        demo.update(hidden=a.hidden, feat_dim=a.hidden)
    results = {w: {s: one(w, s, a.work, a.ar_epochs, **demo) for s in a.seeds} for w in a.worlds}
    table = summarise(results)
    print(table)
    if a.markdown:
        a.markdown.write_text("# Every method beside the linear-probe floor\n" + table)
    if a.json:
        summary = {"ar_epochs": a.ar_epochs, "demo": demo, "results": results}
        a.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
